"""Make the small lesson video and poster used by the tests and the demo.

There is no ffmpeg on the machine and PyAV is not a project dependency, so this
runs once, by hand, in a throwaway virtualenv (the output is committed):

    python3 -m venv /tmp/avenv
    /tmp/avenv/bin/pip install av==16.0.1 pillow
    /tmp/avenv/bin/python courses/tests/lesson_files/make_lesson_media.py

It writes ``lesson.webm`` (VP8 through PyAV's bundled libvpx, 320×180, 10 frames
per second, 16 s, no sound, a few tens of KB; the WebM muxer writes the duration
and cues, so browsers can seek in it) and ``lesson-poster.png`` (320×180).
"""

from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, FPS, SECONDS = 320, 180, 10, 16


def frame_image(index: int) -> Image.Image:
    """A dark-blue card with the elapsed seconds and a bar that fills up."""
    seconds = index / FPS
    image = Image.new("RGB", (WIDTH, HEIGHT), (16, 52, 96))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=56)
    draw.text((WIDTH // 2, 70), f"{int(seconds):02d}", fill=(255, 255, 255), font=font, anchor="mm")
    draw.rectangle((20, 140, 300, 156), outline=(255, 255, 255), width=2)
    draw.rectangle((22, 142, 22 + int(276 * seconds / SECONDS), 154), fill=(255, 196, 0))
    return image


def write_video(path: Path) -> None:
    with av.open(str(path), mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=FPS)
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 24_000
        stream.options = {"deadline": "good", "cpu-used": "0", "g": str(FPS * 2)}
        for index in range(FPS * SECONDS):
            frame = av.VideoFrame.from_image(frame_image(index))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_poster(path: Path) -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), (16, 52, 96))
    draw = ImageDraw.Draw(image)
    # A play button, so the poster reads as a video before it loads.
    draw.ellipse((125, 45, 195, 115), outline=(255, 255, 255), width=4)
    draw.polygon([(150, 60), (150, 100), (182, 80)], fill=(255, 196, 0))
    image.save(path, optimize=True)


if __name__ == "__main__":
    write_video(HERE / "lesson.webm")
    write_poster(HERE / "lesson-poster.png")
    for name in ("lesson.webm", "lesson-poster.png"):
        print(name, (HERE / name).stat().st_size, "bytes")
