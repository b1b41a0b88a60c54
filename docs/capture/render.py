"""Renders a text frame as a terminal window (PNG): a title bar, the command line that
printed it, and the frame in a monospace font, colouring the bars and phases as a terminal
with a dark theme would show them.

Usage: render.py FRAME.txt OUT.png "COMMAND"
"""

import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
PAD = 18
TITLE_BAR = 30
BACKGROUND = (30, 32, 38)
FOREGROUND = (214, 219, 226)
DIM = (130, 138, 150)
GREEN = (120, 200, 120)
YELLOW = (230, 195, 95)
RED = (235, 110, 100)
CYAN = (110, 190, 220)
PHASE_COLOURS = {"Succeeded": GREEN, "Pulling": YELLOW, "Failed": RED, "Waiting": DIM}


def spans(line):
    """(text, colour, bold) pieces of one frame line."""
    if line.startswith("NODE"):
        return [(line, DIM, True)]
    if line.startswith(("imagepulljob", "imagelistpulljob")):
        return [(line, FOREGROUND, True)]
    out = []
    rest = line
    while rest:
        start = rest.find("[")
        end = rest.find("]", start)
        if start < 0 or end < 0:
            out.extend(words(rest))
            break
        out.extend(words(rest[:start]))
        bar = rest[start + 1 : end]
        filled = len(bar) - len(bar.lstrip("#"))
        out.append(("[", DIM, False))
        out.append(("█" * filled, CYAN, False))
        out.append(("·" * (len(bar) - filled), DIM, False))
        out.append(("]", DIM, False))
        rest = rest[end + 1 :]
    return out


def words(text):
    pieces = []
    for i, word in enumerate(text.split(" ")):
        if i:
            pieces.append((" ", FOREGROUND, False))
        pieces.append((word, PHASE_COLOURS.get(word, FOREGROUND), False))
    return pieces


def main():
    frame_path, out_path, command = sys.argv[1:4]
    lines = open(frame_path, encoding="utf-8").read().rstrip("\n").split("\n")
    regular = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(BOLD, SIZE)
    cell = regular.getbbox("M")[2]
    line_height = int(SIZE * 1.45)
    prompt = "$ " + command
    columns = max(len(prompt), *(len(l) for l in lines)) + 2
    width = PAD * 2 + cell * columns
    height = TITLE_BAR + PAD * 2 + line_height * (len(lines) + 2)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, width, TITLE_BAR], fill=(48, 51, 60))
    for i, colour in enumerate([RED, YELLOW, GREEN]):
        x = 16 + i * 20
        draw.ellipse([x - 6, TITLE_BAR / 2 - 6, x + 6, TITLE_BAR / 2 + 6], fill=colour)
    draw.text((width / 2, TITLE_BAR / 2), "kubectl prepull", fill=DIM, font=regular, anchor="mm")
    y = TITLE_BAR + PAD
    draw.text((PAD, y), "$ ", fill=GREEN, font=bold)
    draw.text((PAD + cell * 2, y), command, fill=FOREGROUND, font=regular)
    y += line_height * 2
    for line in lines:
        x = PAD
        for text, colour, is_bold in spans(line):
            draw.text((x, y), text, fill=colour, font=bold if is_bold else regular)
            x += cell * len(text)
        y += line_height
    image.save(out_path, optimize=True)


if __name__ == "__main__":
    main()
