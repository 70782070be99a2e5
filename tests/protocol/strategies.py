"""Hypothesis strategies for valid protocol values, derived from the codecs.

Control messages are generated from each dataclass's field codecs, so a new
message type is covered without editing this file.
"""

import dataclasses
import string
from typing import Any

from hypothesis import strategies as st

from protocol import media
from protocol.limits import MAX_SCREEN_DIM
from protocol.messages import MESSAGE_TYPES
from protocol.messages import _codec as c

IDENT = st.text(string.ascii_letters + string.digits + "_.:-", min_size=1, max_size=64)
EVENT_NAME = st.from_regex(c.EVENT_NAME_RE, fullmatch=True).filter(lambda s: len(s) <= 64)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=64))


def value_for(codec: c.Codec) -> st.SearchStrategy[Any]:
    """Python values valid for ``codec``."""
    if isinstance(codec, c.Int):
        return st.integers(codec.lo, codec.hi)
    if isinstance(codec, c.Bool):
        return st.booleans()
    if isinstance(codec, c.Text):
        return st.text(min_size=codec.min_chars, max_size=min(codec.max_chars, 300))
    if isinstance(codec, c.Pattern):
        if codec.regex is c.IDENTIFIER_RE:
            return IDENT
        if codec.regex is c.EVENT_NAME_RE:
            return EVENT_NAME
        return st.from_regex(codec.regex, fullmatch=True)
    if isinstance(codec, c.OneOf):
        return st.sampled_from(sorted(codec.values))
    if isinstance(codec, c.B64u):
        return st.binary(min_size=codec.size, max_size=codec.size)
    if isinstance(codec, c.Perms):
        names = sorted(codec.names)
        return st.permutations(names).flatmap(
            lambda p: st.integers(0 if codec.allow_empty else 1, len(p)).map(lambda n: tuple(p[:n]))
        )
    if isinstance(codec, c.Nested):
        return instance_of(codec.cls)
    if isinstance(codec, c.ListOf):
        return st.lists(value_for(codec.item), max_size=3).map(tuple)
    if isinstance(codec, c.JsonObj):
        if codec.flat:
            return st.dictionaries(IDENT, SCALAR, max_size=codec.max_keys).map(
                lambda d: {k: v[: codec.max_str] if isinstance(v, str) else v for k, v in d.items()}
            )
        return st.fixed_dictionaries(
            {k: st.integers(0, 2**53) for k in codec.required},
            optional={"extra": SCALAR},
        )
    raise AssertionError(f"no strategy for {codec!r}")


def instance_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Valid instances of a message (or nested) dataclass."""
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        strat = value_for(f.metadata[c.CODEC])
        if f.default is None or f.metadata.get(c.NULLABLE):
            strat = st.none() | strat
        kwargs[f.name] = strat
    return st.builds(cls, **kwargs)


CONTROL_MESSAGES = st.sampled_from(sorted(MESSAGE_TYPES)).flatmap(
    lambda t: instance_of(MESSAGE_TYPES[t])
)

U16 = st.integers(0, 0xFFFF)
CIPHERTEXT = st.binary(min_size=media.GCM_TAG_SIZE, max_size=64)
FRAMES = st.one_of(
    st.builds(
        media.ScreenUpdateFrame,
        st.sampled_from([0, media.FLAG_FULL]),
        st.integers(1, 2**32 - 1),
        st.integers(1, 2**64 - 1),
        CIPHERTEXT,
    ),
    st.builds(media.InputFrame, st.integers(0, 2**32 - 1), st.integers(1, 2**64 - 1), CIPHERTEXT),
    st.builds(media.AckFrame, st.integers(1, 2**64 - 1)),
    st.builds(
        media.VideoChunkFrame,
        st.sampled_from([0, media.FLAG_KEY]),
        st.integers(1, 2**32 - 1),
        st.integers(1, 2**64 - 1),
        CIPHERTEXT,
    ),
    st.builds(media.UnknownBinary, st.integers(5, 255), st.binary(max_size=32)),
)


@st.composite
def screen_updates(draw: st.DrawFn) -> media.ScreenUpdate:
    """Valid screen updates (destinations inside the screen)."""
    width = draw(st.integers(1, MAX_SCREEN_DIM))
    height = draw(st.integers(1, MAX_SCREEN_DIM))
    images = draw(
        st.lists(
            st.builds(
                media.EncodedImage,
                st.sampled_from(sorted(media.CODECS)),
                st.binary(min_size=1, max_size=40),
            ),
            max_size=4,
        )
    )
    rects = []
    if images:
        for _ in range(draw(st.integers(0, 6))):
            w = draw(st.integers(1, width))
            h = draw(st.integers(1, height))
            rects.append(
                media.Rect(
                    draw(st.integers(0, len(images) - 1)),
                    draw(U16),
                    draw(U16),
                    draw(st.integers(0, width - w)),
                    draw(st.integers(0, height - h)),
                    w,
                    h,
                )
            )
    return media.ScreenUpdate(width, height, tuple(images), tuple(rects))


BUTTON = st.sampled_from(sorted(media.BUTTONS))
MODS = st.integers(0, media.MODIFIERS_MASK)
INPUT_EVENTS = st.one_of(
    st.builds(media.PointerMove, U16, U16),
    st.builds(media.ButtonDown, U16, U16, BUTTON),
    st.builds(media.ButtonUp, U16, U16, BUTTON),
    st.builds(media.Wheel, U16, U16, st.integers(-0x8000, 0x7FFF), st.integers(-0x8000, 0x7FFF)),
    st.builds(media.KeyDown, st.integers(0, 2**32 - 1), MODS),
    st.builds(media.KeyUp, st.integers(0, 2**32 - 1), MODS),
)
INPUT_BATCHES = st.lists(INPUT_EVENTS, max_size=20).map(lambda e: media.InputBatch(tuple(e)))


VIDEO_CHUNKS = st.builds(
    media.VideoChunk,
    st.sampled_from(sorted(media.VIDEO_CODECS)),
    st.integers(1, MAX_SCREEN_DIM),
    st.integers(1, MAX_SCREEN_DIM),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=1, max_size=64),
)
