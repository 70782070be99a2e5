"""Media specs, synthetic tracks, mute, and the STUN/TURN configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac

import numpy as np
import pytest

from agent.call.ice import IceConfigError, IceServer, parse_ice_servers, turn_rest_credentials
from agent.call.media import (
    MediaError,
    MutableTrack,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
    open_media,
    parse_audio_spec,
    parse_video_spec,
)


def test_video_specs() -> None:
    assert parse_video_spec("synthetic:320x240@10").width == 320
    spec = parse_video_spec("synthetic:320x240@10")
    assert (spec.kind, spec.height, spec.fps) == ("synthetic", 240, 10)
    assert parse_video_spec("v4l2:/dev/video2").device == "/dev/video2"
    assert parse_video_spec("none").kind == "none"
    for bad in ("synthetic:big", "synthetic:321x240", "webcam", "synthetic:320x240@99"):
        with pytest.raises(MediaError):
            parse_video_spec(bad)


def test_audio_specs() -> None:
    assert parse_audio_spec("synthetic:880").tone_hz == 880
    assert parse_audio_spec("alsa:hw:1").device == "hw:1"
    assert parse_audio_spec("pulse").device == "default"
    for bad in ("synthetic:1", "mic"):
        with pytest.raises(MediaError):
            parse_audio_spec(bad)


async def test_synthetic_video_moves_and_is_paced() -> None:
    track = SyntheticVideoTrack(64, 48, 20)
    a = (await track.recv()).to_ndarray(format="gray")
    b = (await track.recv()).to_ndarray(format="gray")
    assert a.shape == (48, 64) and not np.array_equal(a, b)
    track.stop()


async def test_mute_sends_black_and_silence() -> None:
    video = MutableTrack(SyntheticVideoTrack(64, 48, 30))
    audio = MutableTrack(SyntheticAudioTrack())
    assert (await video.recv()).to_ndarray(format="gray").max() > 100
    assert np.abs((await audio.recv()).to_ndarray()).max() > 1000
    video.muted = audio.muted = True
    frame = await video.recv()
    assert frame.to_ndarray(format="gray").max() <= 20 and frame.width == 64
    assert np.abs((await audio.recv()).to_ndarray()).max() == 0
    video.stop()
    audio.stop()
    assert video.source.readyState == "ended" and audio.source.readyState == "ended"


def test_open_media_none_opens_nothing() -> None:
    media = open_media(parse_video_spec("none"), parse_audio_spec("none"))
    assert media.tracks == []


def test_missing_camera_is_a_media_error() -> None:
    with pytest.raises(MediaError):
        open_media(parse_video_spec("v4l2:/dev/no-such-camera"), parse_audio_spec("none"))


def test_ice_servers_parse() -> None:
    servers = parse_ice_servers(
        '[{"urls": "stun:stun.example.com:3478"},'
        ' {"urls": ["turn:t.example.com:3478?transport=udp"], "username": "u", "credential": "pw-XYZZY"}]'
    )
    assert servers[0] == IceServer(("stun:stun.example.com:3478",))
    assert servers[1].to_json() == {
        "urls": ["turn:t.example.com:3478?transport=udp"],
        "username": "u",
        "credential": "pw-XYZZY",
    }
    assert "XYZZY" not in repr(servers[1])  # credentials stay out of logs
    assert parse_ice_servers("") == () and parse_ice_servers("[]") == ()
    for bad in ("{", "{}", '[{"urls": "http://x"}]', '[{"urls": "turn:x"}]', "[1]"):
        with pytest.raises(IceConfigError):
            parse_ice_servers(bad)


def test_turn_rest_credentials_match_coturn() -> None:
    user, password = turn_rest_credentials("s3cret", "v1", now_s=1_000, ttl_s=60)
    assert user == "1060:v1"
    expected = base64.b64encode(hmac.new(b"s3cret", b"1060:v1", hashlib.sha1).digest()).decode()
    assert password == expected


def test_call_config_from_env() -> None:
    from agent.call import CallConfig

    config = CallConfig.from_env(
        {
            "CLEARPANE_ICE_SERVERS": '[{"urls": "stun:127.0.0.1:3478"}]',
            "CLEARPANE_CALL_VIDEO": "synthetic:320x240@10",
            "CLEARPANE_CALL_AUDIO": "none",
        }
    )
    assert config.ice_servers == (IceServer(("stun:127.0.0.1:3478",)),)
    media = config.media_factory()()
    assert media.audio is None and media.video is not None
    media.close()
    with pytest.raises(MediaError):
        CallConfig.from_env({"CLEARPANE_CALL_VIDEO": "webcam"})
    with pytest.raises(IceConfigError):
        CallConfig.from_env({"CLEARPANE_ICE_SERVERS": "nope"})


def test_auto_without_devices_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client without a camera or microphone must never send a stand-in picture or tone:
    ``auto`` falls back to none, and only a named ``synthetic`` source makes one."""
    import agent.call.media as media

    real_exists = media.Path.exists
    monkeypatch.setattr(
        media.Path,
        "exists",
        lambda p: False if str(p).startswith(("/dev/video", "/run/user")) else real_exists(p),
    )
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    assert parse_video_spec("auto").kind == "none"
    assert parse_audio_spec("auto").kind == "none"
    assert parse_video_spec("synthetic").kind == "synthetic"
