#!/usr/bin/env python3
"""Writes the sample lessons' media for content-samples/lessons/media: PNG figures drawn point by
point and a WAV of four tones, with nothing but the standard library, so they can be rebuilt.

    python3 tools/make_lesson_samples.py
"""
import math
import struct
import wave
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "content-samples" / "lessons" / "media"
W, H = 480, 320


class Canvas:
    def __init__(self, w=W, h=H):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def dot(self, x, y, rgb, r=1):
        for dx in range(-r, r + 1):
            for dy in range(-r, r + 1):
                xi, yi = int(x + dx), int(y + dy)
                if 0 <= xi < self.w and 0 <= yi < self.h:
                    i = (yi * self.w + xi) * 3
                    self.px[i:i + 3] = bytes(rgb)

    def line(self, x0, y0, x1, y1, rgb, r=0):
        steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        for s in range(steps + 1):
            t = s / steps
            self.dot(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, rgb, r)

    def rect(self, x0, y0, x1, y1, rgb):
        for y in range(y0, y1):
            for x in range(x0, x1):
                self.dot(x, y, rgb, 0)

    def axes(self):
        grey = (200, 200, 200)
        for x in range(0, self.w, 40):
            self.line(x, 0, x, self.h - 1, grey)
        for y in range(0, self.h, 40):
            self.line(0, y, self.w - 1, y, grey)
        self.line(0, self.h // 2, self.w - 1, self.h // 2, (0, 0, 0), 1)
        self.line(self.w // 2, 0, self.w // 2, self.h - 1, (0, 0, 0), 1)

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def plot(c, f, x_range, y_scale, rgb):
    x0, x1 = x_range
    prev = None
    for px in range(c.w):
        x = x0 + (x1 - x0) * px / (c.w - 1)
        y = c.h / 2 - f(x) * y_scale
        if prev:
            c.line(prev[0], prev[1], px, y, rgb, 1)
        prev = (px, y)


def parabola():
    c = Canvas()
    c.axes()
    # y = x^2 - 2x - 3 on [-6, 6], one unit = 40 px: vertex (1, -4), roots -1 and 3.
    plot(c, lambda x: x * x - 2 * x - 3, (-6, 6), 40, (31, 111, 178))
    for x, y in [(-1, 0), (3, 0), (1, -4)]:
        c.dot(W / 2 + x * 40, H / 2 - y * 40, (200, 30, 30), 4)
    c.png(OUT / "parabol-y-x2-2x-3.png")


def waves():
    c = Canvas()
    c.axes()
    for freq, rgb in [(1, (31, 111, 178)), (2, (200, 60, 30))]:
        plot(c, lambda x, f=freq: math.sin(2 * math.pi * f * x / 6), (-6, 6), 100, rgb)
    c.png(OUT / "song-am-tan-so.png")


def periodic_block():
    c = Canvas()
    colours = [(255, 205, 150), (255, 240, 160), (180, 220, 255), (200, 240, 200)]
    # Periods 1-3 of the table: s block on the left, p block on the right.
    layout = [[0] + [None] * 16 + [3]] + [[0, 0] + [None] * 10 + [2, 2, 2, 2, 2, 3]] * 2
    for row, cells in enumerate(layout):
        for col, kind in enumerate(cells):
            if kind is None:
                continue
            x, y = 10 + col * 26, 40 + row * 60
            c.rect(x, y, x + 24, y + 56, colours[kind])
            c.line(x, y, x + 24, y, (90, 90, 90))
            c.line(x, y + 56, x + 24, y + 56, (90, 90, 90))
    c.png(OUT / "bang-tuan-hoan-chu-ki-1-3.png")


def sorting_bars():
    c = Canvas()
    values = [7, 3, 9, 1, 6, 2, 8, 4, 5]
    for step, arr in enumerate([values, sorted(values)]):
        for i, v in enumerate(arr):
            x = 20 + step * 240 + i * 24
            c.rect(x, 300 - v * 28, x + 20, 300, (31, 111, 178) if step else (200, 120, 40))
    c.png(OUT / "sap-xep-truoc-sau.png")


def mind_map():
    c = Canvas()
    centre = (240, 160)
    for angle in range(0, 360, 60):
        x = centre[0] + 150 * math.cos(math.radians(angle))
        y = centre[1] + 110 * math.sin(math.radians(angle))
        c.line(centre[0], centre[1], x, y, (120, 120, 120), 1)
        c.rect(int(x) - 30, int(y) - 14, int(x) + 30, int(y) + 14, (255, 230, 180))
    c.rect(190, 140, 290, 180, (180, 220, 255))
    c.png(OUT / "so-do-tu-duy-nghi-luan.png")


def tones():
    # C4, E4, G4, A4: two seconds each, 16 kHz, 16-bit mono, with a soft attack and release.
    rate = 16000
    frames = bytearray()
    for freq in (261.63, 329.63, 392.00, 440.00):
        n = rate * 2
        for i in range(n):
            envelope = min(1.0, i / 800, (n - i) / 800)
            sample = 0.5 * envelope * math.sin(2 * math.pi * freq * i / rate)
            frames += struct.pack("<h", int(sample * 32767))
    with wave.open(str(OUT / "am-do-cao-khac-nhau.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    parabola()
    waves()
    periodic_block()
    sorting_bars()
    mind_map()
    tones()
    for p in sorted(OUT.iterdir()):
        print(p.name, p.stat().st_size)
