"""Makes the sample images in this folder (run: python samples/make_samples.py). Needs Pillow."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).parent


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def shapes() -> None:
    img = Image.new("RGB", (320, 200), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((24, 40, 120, 150), fill=(220, 30, 30))
    d.ellipse((140, 50, 230, 140), fill=(30, 90, 220))
    d.polygon([(250, 150), (300, 150), (275, 60)], fill=(250, 200, 20))
    img.save(HERE / "shapes.png", optimize=True)


def sign() -> None:
    img = Image.new("RGB", (480, 200), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((8, 8, 471, 191), outline="black", width=4)
    d.text((36, 40), "VISION ASYNC", fill="black", font=font(44))
    d.text((36, 110), "Read me: 42 images", fill=(20, 20, 120), font=font(32))
    img.save(HERE / "sign.png", optimize=True)


def landscape() -> None:
    width, height = 400, 260
    img = Image.new("RGB", (width, height))
    d = ImageDraw.Draw(img)
    for y in range(height):  # sky fading to the horizon, then grass
        if y < 170:
            t = y / 170
            d.line([(0, y), (width, y)], fill=(int(70 + 110 * t), int(130 + 90 * t), 235))
        else:
            d.line([(0, y), (width, y)], fill=(40, int(150 - (y - 170) * 0.6), 50))
    d.ellipse((290, 30, 350, 90), fill=(255, 210, 60))
    d.polygon([(60, 170), (130, 95), (200, 170)], fill=(120, 110, 100))
    img.save(HERE / "landscape.jpg", quality=85)


if __name__ == "__main__":
    shapes()
    sign()
    landscape()
