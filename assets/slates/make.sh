#!/bin/sh
# Regenerates the denial slates: one short MPEG-TS clip per reason a stream
# can be refused for, which tvgate plays instead of an HTTP error so a viewer
# reads why (docs/denials.md, "What a player sees"). The clips are committed
# and embedded in the binary (crates/http/src/slate.rs, include_bytes!), so
# neither a build nor CI needs this script or its tools.
#
# The wording is fixed per reason: figures such as "2 of 2 in use" differ per
# request and go in the response headers and the log, never on screen.
#
# Properties:
#   * 3 s at 25 fps, 640x360, white DejaVu Sans on a dark background, the
#     reason code small at the bottom (for support calls);
#   * H.264 main profile, an IDR keyframe every second, closed GOPs: the
#     first packet is a clean random-access point for any player;
#   * silent mono AAC, because some players wait for audio before starting;
#   * each clip well under 100 KB.
#
# Tools: ffmpeg with libx264 and drawtext (libfreetype), and the DejaVu fonts
# (Debian: apt-get install ffmpeg fonts-dejavu-core). drawtext renders the
# text, so ImageMagick is not needed.
#
# Usage: assets/slates/make.sh [OUTPUT_DIR]   (default: assets/slates)
set -eu
out=${1:-"$(dirname "$0")"}
font=${SLATE_FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
bold=${SLATE_FONT_BOLD:-/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# slate CODE TITLE LINE1 [LINE2]
slate() {
  code=$1
  printf '%s' "$2" >"$work/title"
  printf '%s' "$3" >"$work/line1"
  printf '%s' "${4:-}" >"$work/line2"
  printf 'reason: %s' "$code" >"$work/code"
  text="drawtext=fontfile=$bold:textfile=$work/title:fontcolor=white:fontsize=34:x=(w-text_w)/2:y=120"
  text="$text,drawtext=fontfile=$font:textfile=$work/line1:fontcolor=white:fontsize=21:x=(w-text_w)/2:y=190"
  text="$text,drawtext=fontfile=$font:textfile=$work/line2:fontcolor=white:fontsize=21:x=(w-text_w)/2:y=222"
  text="$text,drawtext=fontfile=$font:textfile=$work/code:fontcolor=0x8c96a5:fontsize=15:x=(w-text_w)/2:y=320"
  ffmpeg -hide_banner -nostdin -loglevel error -y \
    -f lavfi -i "color=c=0x18202b:size=640x360:rate=25:duration=3,$text" \
    -f lavfi -i "anullsrc=channel_layout=mono:sample_rate=48000" \
    -map 0:v -map 1:a -t 3 \
    -c:v libx264 -preset veryslow -tune stillimage -profile:v main -pix_fmt yuv420p \
    -threads 1 -crf 30 -bf 0 -g 25 -keyint_min 25 -sc_threshold 0 -flags +cgop \
    -x264-params open-gop=0 \
    -c:a aac -b:a 24k -ac 1 -ar 48000 \
    -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
    -f mpegts -metadata service_name="tvgate" -metadata service_provider=tvgate \
    "$out/$code.ts"
}

slate invalid_credentials "Invalid username or password" \
  "Check the login saved in your player."
slate disabled "Subscription suspended" \
  "Your provider has suspended this subscription."
slate banned "Subscription blocked" \
  "Your provider has blocked this subscription."
slate expired "Subscription expired" \
  "Contact your provider to renew it."
slate output_format_not_allowed "Stream format not included" \
  "Your subscription does not include this format:" \
  "choose another stream format in your player."
slate not_in_package "Not in your subscription" \
  "This channel is not part of your package."
slate connection_limit "Connection limit reached" \
  "Every connection of your subscription is in use:" \
  "stop watching on another device and try again."
slate source_at_capacity "Source at capacity" \
  "The provider's connection limit is reached," \
  "try again shortly."
slate device_not_registered "Device not registered" \
  "This subscription is bound to another device:" \
  "reset the binding, or ask your provider."
