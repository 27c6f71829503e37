"""Stream helpers for Amaranth-simulator testbenches (async, Amaranth 0.5)."""

from __future__ import annotations

__all__ = ["stream_put", "stream_get"]


async def stream_put(ctx, stream, payload) -> None:
    """Offer ``payload`` on ``stream`` until it is accepted (``valid`` never waits on ready)."""
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream):
    """Accept one payload from ``stream`` and return it."""
    if not stream.signature.always_ready:
        ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    if not stream.signature.always_ready:
        ctx.set(stream.ready, 0)
    return payload
