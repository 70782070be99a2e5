"""The client's desktop agent: capture → mask → diff → encode → encrypt → send,
plus consent, kill switch, input gating, the Qt window and headless mode."""

__all__: list[str] = []
