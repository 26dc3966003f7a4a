package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// bareHub is the usual gorilla/websocket broadcast hub: one goroutine
// owns the client set and hands each message to every client's buffered
// channel, dropping a client whose channel is full; each client's writer
// packs whatever is queued into one frame (a JSON array).
type bareHub struct {
	up        websocket.Upgrader
	broadcast chan []byte
	join      chan *bareClient
	leave     chan *bareClient
	done      chan struct{}
	wg        sync.WaitGroup
}

type bareClient struct {
	conn *websocket.Conn
	send chan []byte
}

func newBareHub() *bareHub {
	b := &bareHub{up: websocket.Upgrader{WriteBufferSize: 16384}, broadcast: make(chan []byte, 256),
		join: make(chan *bareClient), leave: make(chan *bareClient), done: make(chan struct{})}
	b.wg.Add(1)
	go b.run()
	return b
}

func (b *bareHub) run() {
	defer b.wg.Done()
	clients := map[*bareClient]bool{}
	for {
		select {
		case c := <-b.join:
			clients[c] = true
		case c := <-b.leave:
			if clients[c] {
				delete(clients, c)
				close(c.send)
			}
		case msg := <-b.broadcast:
			for c := range clients {
				select {
				case c.send <- msg:
				default: // too slow: drop it
					delete(clients, c)
					close(c.send)
				}
			}
		case <-b.done:
			for c := range clients {
				close(c.send)
			}
			return
		}
	}
}

func (b *bareHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := b.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &bareClient{conn: conn, send: make(chan []byte, 256)}
	select {
	case b.join <- c:
	case <-b.done:
		conn.Close()
		return
	}
	go c.write()
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	select {
	case b.leave <- c:
	case <-b.done:
	}
}

func (c *bareClient) write() {
	defer c.conn.Close()
	for msg := range c.send {
		c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		w, err := c.conn.NextWriter(websocket.TextMessage)
		if err != nil {
			return
		}
		w.Write([]byte{'['})
		w.Write(msg)
		for n := len(c.send); n > 0; n-- {
			w.Write([]byte{','})
			w.Write(<-c.send)
		}
		w.Write([]byte{']'})
		if err := w.Close(); err != nil {
			return
		}
	}
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4008, "too slow"))
}

func (b *bareHub) publish(msg []byte) { b.broadcast <- msg }

func (b *bareHub) close() {
	close(b.done)
	b.wg.Wait()
}
