#!/bin/sh
# generate.sh writes the voice prompts Moroz ships: speech from espeak-ng,
# tones and the hold tune from sox, all as 8 kHz mono 16-bit WAV (what
# sip/media plays). Run it from anywhere; it writes next to itself.
#
#   sh voice/prompts/generate.sh
#
# Needs the Debian packages espeak-ng and sox. The hold tune is
# synthesised here note by note: it is no one's music but Moroz's.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say LANG NAME TEXT: one spoken prompt.
say() {
	mkdir -p "$dir/$1"
	espeak-ng -v "$1" -s 150 -w "$tmp/raw.wav" "$3"
	sox "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$dir/$1/$2.wav" norm -3
}

# numbers LANG: "1" to "20" as the voice reads digits.
numbers() {
	n=1
	while [ "$n" -le 20 ]; do
		say "$1" "n$n" "$n"
		n=$((n + 1))
	done
}

say ru greeting "Здравствуйте! Вы позвонили Деду Морозу. Пожалуйста, оставайтесь на линии, вам скоро ответят."
say ru after-hours "Здравствуйте! Вы позвонили Деду Морозу. Сейчас мы не работаем. Пожалуйста, оставьте сообщение после сигнала."
say ru position "Ваш номер в очереди:"
say ru wait "Примерное время ожидания:"
say ru minutes-one "минута"
say ru minutes-few "минуты"
say ru minutes-many "минут"
say ru n1f "одна"
say ru n2f "две"
say ru menu "Нажмите 1, чтобы оставить голосовое сообщение, или 2, чтобы мы вам перезвонили."
say ru leave-message "Оставьте сообщение после сигнала. Когда закончите, положите трубку."
say ru callback "Спасибо! Мы перезвоним вам, как только освободится помощник. До свидания."
say ru saved "Спасибо, ваше сообщение записано. До свидания."
numbers ru

say be greeting "Добры дзень! Вы патэлефанавалі Дзеду Марозу. Калі ласка, заставайцеся на лініі, вам хутка адкажуць."
say be after-hours "Добры дзень! Вы патэлефанавалі Дзеду Марозу. Зараз мы не працуем. Калі ласка, пакіньце паведамленне пасля сігналу."
say be position "Ваш нумар у чарзе:"
say be wait "Прыблізны час чакання:"
say be minutes-one "хвіліна"
say be minutes-few "хвіліны"
say be minutes-many "хвілін"
say be n1f "адна"
say be n2f "дзве"
say be menu "Націсніце 1, каб пакінуць галасавое паведамленне, або 2, каб мы вам ператэлефанавалі."
say be leave-message "Пакіньце паведамленне пасля сігналу. Калі скончыце, пакладзіце трубку."
say be callback "Дзякуй! Мы ператэлефануем вам, як толькі вызваліцца памочнік. Да пабачэння."
say be saved "Дзякуй, ваша паведамленне запісана. Да пабачэння."
numbers be

say en greeting "Hello! You have called Grandfather Frost. Please stay on the line, a helper will answer soon."
say en after-hours "Hello! You have called Grandfather Frost. We are closed right now. Please leave a message after the tone."
say en position "Your place in the queue is"
say en wait "Your expected wait is about"
say en minutes-one "minute"
say en minutes-few "minutes"
say en minutes-many "minutes"
say en menu "Press 1 to leave a voice message, or 2 and we will call you back."
say en leave-message "Please leave a message after the tone. Hang up when you are done."
say en callback "Thank you! We will call you back as soon as a helper is free. Goodbye."
say en saved "Thank you, your message is recorded. Goodbye."
numbers en

# The tone before recording: 400 ms of 1 kHz.
sox -n -r 8000 -c 1 -b 16 -e signed-integer "$dir/beep.wav" synth 0.4 sine 1000 gain -6 fade 0.01 0.4 0.01

# The hold tune: a plucked melody over a soft pad, 16 s, looped by the player.
notes="E4 G4 A4 G4 E4 D4 C4 D4 E4 E4 D4 D4 E4 G4 A4 C5 A4 G4 E4 D4 C4 D4 E4 C4"
i=0
for n in $notes; do
	sox -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/note$(printf %02d $i).wav" \
		synth 0.5 pluck "$n" gain -8 fade 0 0.5 0.15
	i=$((i + 1))
done
sox "$tmp"/note*.wav "$tmp/melody.wav"
sox -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/pad.wav" \
	synth 12 sine C3 sine E3 sine G3 gain -24 fade 1 12 1
sox -m "$tmp/melody.wav" "$tmp/pad.wav" -r 8000 -c 1 -b 16 -e signed-integer "$dir/hold.wav" norm -6
