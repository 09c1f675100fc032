#!/bin/sh
# Regenerates assets/demo.ts, the clip `tvgate demo` loops as live channels
# (crates/relay/src/loop_source.rs embeds it with include_bytes!).
#
# Properties the looping relay relies on:
#   * 6.4 s = 160 video frames at 25 fps = 300 AAC frames at 48 kHz, so video
#     and audio end together and each loop is seamless (6.4 s is a multiple of
#     both 40 ms and 1024/48000 s = 21.33 ms);
#   * the audio input is 1024 samples short of 6.4 s because the AAC encoder
#     prepends 1024 samples of priming: 306176 + 1024 = 300 * 1024;
#   * an IDR keyframe every 32 frames (1.28 s), no scene-cut keyframes, closed
#     GOPs: the first packet of the clip is a clean random-access point;
#   * -pes_payload_size 0: one AAC frame per PES packet, so every PES carries
#     one timestamp and the clip duration can be computed from timestamps;
#   * small: 640x360, ~450 kbit/s video, 64 kbit/s mono audio (< 1 MiB).
#
# Usage: assets/make_demo_clip.sh [OUTPUT]   (default: assets/demo.ts)
set -eu
out=${1:-"$(dirname "$0")/demo.ts"}

ffmpeg -hide_banner -nostdin -y \
  -f lavfi -i "testsrc2=size=640x360:rate=25:duration=6.4" \
  -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=6.4,atrim=end_sample=306176" \
  -map 0:v -map 1:a \
  -c:v libx264 -preset medium -profile:v main -pix_fmt yuv420p -threads 1 \
  -b:v 450k -maxrate 450k -bufsize 900k \
  -g 32 -keyint_min 32 -sc_threshold 0 -flags +cgop -x264-params open-gop=0 \
  -c:a aac -b:a 64k -ac 1 -ar 48000 \
  -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
  -f mpegts -pes_payload_size 0 -metadata service_name="tvgate demo" \
  -metadata service_provider=tvgate \
  "$out"
