"""Regenerate tests/protocol/vectors/video.json: SPEC §4.4 video chunks (kind 0x04).

Run ``python -m tests.protocol.make_video_vectors`` only when adding vectors; the
tests never regenerate it, so a layout change fails them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol import media

OUT = Path(__file__).parent / "vectors" / "video.json"


def vectors() -> dict[str, Any]:
    """The video golden vectors: frames, payloads and invalid inputs."""
    frames = [
        ("keyframe", media.VideoChunkFrame(media.FLAG_KEY, 1, 1, bytes(range(16)))),
        ("delta frame, epoch 2", media.VideoChunkFrame(0, 2, 0x0102030405, b"\xaa" * 20)),
    ]
    payloads = [
        ("vp9 1080p", media.VideoChunk(media.VIDEO_VP9, 1920, 1080, 0, b"\x82\x49\x83\x42\x00")),
        ("h264", media.VideoChunk(media.VIDEO_H264, 1280, 720, 33_333, b"\x00\x00\x00\x01\x67")),
        ("av1", media.VideoChunk(media.VIDEO_AV1, 8, 8, 2**40, b"\x12\x00")),
    ]
    invalid = [
        ("frame shorter than header and tag", "binary", "04" + "01" + "00000001" + "00" * 8 + "00" * 15, "malformed_binary"),
        ("unknown flag bit", "binary", "04" + "02" + "00000001" + "0000000000000001" + "00" * 16, "invalid_field"),
        ("epoch 0", "binary", "04" + "01" + "00000000" + "0000000000000001" + "00" * 16, "invalid_field"),
        ("seq 0", "binary", "04" + "00" + "00000001" + "0000000000000000" + "00" * 16, "invalid_field"),
        ("empty chunk", "video_chunk", "01" + "0780" + "0438" + "00" * 8, "malformed_binary"),
        ("unknown codec", "video_chunk", "09" + "0780" + "0438" + "00" * 8 + "ff", "invalid_field"),
        ("width 0", "video_chunk", "01" + "0000" + "0438" + "00" * 8 + "ff", "invalid_field"),
        ("height over MAX_SCREEN_DIM", "video_chunk", "01" + "0780" + "2001" + "00" * 8 + "ff", "invalid_field"),
    ]  # fmt: skip
    return {
        "description": "Clearpane SPEC §4.4 video chunk golden vectors: bytes (hex) <-> fields.",
        "layouts": {
            "video_chunk_frame": [
                ["kind", "u8", "0x04"],
                ["flags", "u8", "bit 0 KEY; other bits must be 0"],
                ["epoch", "u32", ">= 1"],
                ["seq", "u64", ">= 1, shared with screen updates"],
                ["ciphertext", "rest", ">= 16 bytes (AES-GCM tag)"],
            ],
            "video_chunk": [
                ["codec", "u8", "1 VP9, 2 H.264, 3 AV1"],
                ["width", "u16", "1..8192"],
                ["height", "u16", "1..8192"],
                ["timestamp_us", "u64", ""],
                ["data", "rest", ">= 1 byte"],
            ],
        },
        "frames": [
            {
                "name": name,
                "hex": bytes(f).hex(),
                "fields": {
                    "flags": f.flags,
                    "epoch": f.epoch,
                    "seq": f.seq,
                    "key": f.key,
                    "ciphertext_hex": bytes(f.ciphertext).hex(),
                },
            }
            for name, f in frames
        ],
        "payloads": [
            {
                "name": name,
                "hex": bytes(c).hex(),
                "fields": {
                    "codec": c.codec,
                    "codec_name": c.codec_name,
                    "width": c.width,
                    "height": c.height,
                    "timestamp_us": c.timestamp_us,
                    "data_hex": c.data.hex(),
                },
            }
            for name, c in payloads
        ],
        "invalid": [{"name": n, "parser": p, "hex": h, "error": e} for n, p, h, e in invalid],
    }


def main() -> None:
    """Write the vectors file."""
    OUT.write_text(json.dumps(vectors(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
