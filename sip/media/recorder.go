package media

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Jitter buffer sizes for recording: release a frame once 3 later frames
// (60 ms) arrived; hold at most 50 (1 s).
const (
	recordDepth    = 3
	recordCapacity = 50
	recordQueue    = 64
)

// RecordInfo describes a finished recording.
type RecordInfo struct {
	// Path is where the WAV file is.
	Path string
	// Duration is the length of audio written.
	Duration time.Duration
	// Gaps counts 20 ms frames that never arrived and were written as silence.
	Gaps int
}

type inFrame struct {
	seq     uint16
	payload []byte
}

// recording is the receiver's side of a Record call: a bounded queue.
type recording struct {
	frames chan inFrame
}

// offer queues a copy of a frame without blocking the receiver.
func (r *recording) offer(seq uint16, payload []byte, c *legCounters) {
	select {
	case r.frames <- inFrame{seq: seq, payload: append([]byte(nil), payload...)}:
	default:
		c.recordDropped.Add(1)
	}
}

// Record writes what the peer sends to a WAV file at path (mono 8 kHz
// 16-bit PCM, decoded from G.711), reordered through a bounded jitter
// buffer, missing frames as silence. It stops after max of audio, when ctx
// ends or when the leg closes; each is a normal end and the file is
// committed (temp file, fsync, rename). It blocks while recording; a
// second concurrent Record gets ErrBusy.
func (l *Leg) Record(ctx context.Context, path string, max time.Duration) (RecordInfo, error) {
	job, err := l.beginRecord(path, max)
	if err != nil {
		return RecordInfo{}, err
	}
	return job.run(ctx)
}

// recordJob is a recording that has been registered with the receiver.
type recordJob struct {
	l    *Leg
	path string
	rec  *recording
	r    recorder
}

// beginRecord creates the file and starts queueing frames; run consumes them.
func (l *Leg) beginRecord(path string, max time.Duration) (*recordJob, error) {
	if max <= 0 {
		return nil, fmt.Errorf("record %s: max duration %v must be positive", path, max)
	}
	w, err := CreateWAV(path)
	if err != nil {
		return nil, err
	}
	rec := &recording{frames: make(chan inFrame, recordQueue)}
	codec, err := l.startRecording(rec)
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("record %s: %w", path, err)
	}
	return &recordJob{l: l, path: path, rec: rec, r: recorder{w: w, codec: codec,
		jb: newJitterBuffer(recordDepth, recordCapacity), maxSamples: int(max * SampleRate / time.Second)}}, nil
}

func (j *recordJob) run(ctx context.Context) (RecordInfo, error) {
	defer j.l.stopRecording(j.rec)
	w := j.r.w
	if err := j.r.run(ctx, j.rec, j.l.done); err != nil {
		w.Abort()
		return RecordInfo{}, fmt.Errorf("record %s: %w", j.path, err)
	}
	if err := w.Commit(); err != nil {
		return RecordInfo{}, err
	}
	return RecordInfo{Path: j.path, Gaps: j.r.gaps,
		Duration: time.Duration(w.Samples()) * time.Second / SampleRate}, nil
}

func (l *Leg) startRecording(rec *recording) (Codec, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed() {
		return Codec{}, ErrClosed
	}
	if l.rec != nil {
		return Codec{}, ErrBusy
	}
	l.rec = rec
	return l.codec, nil
}

func (l *Leg) stopRecording(rec *recording) {
	l.mu.Lock()
	if l.rec == rec {
		l.rec = nil
	}
	l.mu.Unlock()
}

// recorder decodes frames from the jitter buffer into the WAV writer.
type recorder struct {
	w          *WAVWriter
	codec      Codec
	jb         *jitterBuffer
	maxSamples int
	gaps       int
	pcm        []int16
}

var errRecordFull = errors.New("recording reached its maximum length")

func (r *recorder) run(ctx context.Context, rec *recording, legDone <-chan struct{}) error {
	for {
		select {
		case f := <-rec.frames:
			r.jb.push(f.seq, f.payload)
			if err := r.drain(r.jb.pop); err != nil {
				return r.finished(err)
			}
		case <-ctx.Done():
			return r.finish(rec)
		case <-legDone:
			return r.finish(rec)
		}
	}
}

// finish takes what is still queued and buffered, then stops.
func (r *recorder) finish(rec *recording) error {
	for {
		select {
		case f := <-rec.frames:
			r.jb.push(f.seq, f.payload)
		default:
			return r.finished(r.drain(r.jb.flush))
		}
	}
}

func (r *recorder) finished(err error) error {
	if errors.Is(err, errRecordFull) {
		return nil
	}
	return err
}

// drain writes frames released by next until it has none or max is reached.
func (r *recorder) drain(next func() ([]byte, bool)) error {
	for {
		if r.w.Samples() >= r.maxSamples {
			return errRecordFull
		}
		frame, ok := next()
		if !ok {
			return nil
		}
		r.pcm = r.pcm[:0]
		if frame == nil {
			r.gaps++
			r.pcm = append(r.pcm, make([]int16, FrameSamples)...)
		} else {
			r.pcm = r.codec.Decode(r.pcm, frame)
		}
		if room := r.maxSamples - r.w.Samples(); len(r.pcm) > room {
			r.pcm = r.pcm[:room]
		}
		if err := r.w.Write(r.pcm); err != nil {
			return err
		}
	}
}
