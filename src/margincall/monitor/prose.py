"""The monitor report in words: short sentences written from the summary's numbers by fixed
templates, and the formats they use for dollars and times."""

from __future__ import annotations

from typing import Any


def sentences(s: dict[str, Any]) -> list[str]:
    """Short sentences written from the numbers by fixed templates."""
    sym = s["symbol"]
    out: list[str] = []
    p, liq = s["price"], s["liquidations_24h"]
    if p["change_24h_pct"] is not None:
        verb = "fell" if p["change_24h_pct"] < 0 else "rose"
        text = f"{sym} {verb} {abs(p['change_24h_pct']):.1%} in 24 h to {p['last_close']:,.0f}"
    else:
        text = f"{sym} closed at {p['last_close']:,.0f}"
    if liq and liq["long_share"] is not None:
        side, share = (
            ("longs", liq["long_share"])
            if liq["long_share"] >= 0.5
            else ("shorts", 1 - liq["long_share"])
        )
        text += f"; {side} took {share:.0%} of {usd(liq['total_usd'])} liquidated"
    out.append(text + ".")
    d = s["drawdown"]
    out.append(
        f"The window's low was {p['window_low']:,.0f} at {hm(p['window_low_at']['ts'])}; the "
        f"price is {abs(d['pct']):.1%} below the window's high of {d['peak_price']:,.0f} "
        f"({hm(d['peak_at']['ts'])})."
    )
    if liq:
        big = liq["largest_hour"]
        out.append(
            f"The largest {big['unit']} was {hm(big['ts'])} with {usd(big['total_usd'])} liquidated "
            f"({usd(big['long_usd'])} long, {usd(big['short_usd'])} short)."
        )
    oi = s["open_interest"]
    if oi and oi["change_24h_pct"] is not None:
        verb = "fell" if oi["change_24h_usd"] < 0 else "rose"
        out.append(
            f"Open interest {verb} {abs(oi['change_24h_pct']):.1%} "
            f"({usd(abs(oi['change_24h_usd']))}) in 24 h to {usd(oi['end_usd'])}."
        )
    f = s["funding"]
    if f:
        who = "longs pay shorts" if f["last_per_8h"] > 0 else "shorts pay longs"
        if f["last_per_8h"] == 0:
            who = "neither side pays"
        mean = f["mean_24h_per_8h"]
        out.append(
            f"Funding is {f['last_per_8h']:+.4%} per 8 h ({who})"
            + (f", {mean:+.4%} on average over 24 h." if mean is not None else ".")
        )
    sent = s["sentiment"]
    if sent["value"] is not None:
        out.append(
            f"The market-data sentiment index reads {sent['value']:.0f}/100 ({sent['label']})."
        )
    ind = s["indicators"]
    if ind["rsi_14"] is not None:
        state = (
            "oversold" if ind["rsi_14"] < 30 else "overbought" if ind["rsi_14"] > 70 else "neutral"
        )
        text = f"RSI(14) is {ind['rsi_14']:.1f} ({state})"
        if ind["macd_hist"] is not None:
            pos = "above" if ind["macd_hist"] > 0 else "below"
            text += f"; MACD is {pos} its signal line (histogram {ind['macd_hist']:+,.1f})"
        out.append(text + ".")
    w = s.get("watch")
    if w:
        if w["clusters_below"]:
            c = w["clusters_below"][0]
            out.append(
                f"The largest long cluster below is {usd(c['notional_usd'])} at "
                f"{c['price_low']:,.0f}-{c['price_high']:,.0f} ({c['distance_pct']:+.1%})."
            )
        if w["clusters_above"]:
            c = w["clusters_above"][0]
            out.append(
                f"The largest short cluster above is {usd(c['notional_usd'])} at "
                f"{c['price_low']:,.0f}-{c['price_high']:,.0f} ({c['distance_pct']:+.1%})."
            )
        cas = w["cascade"]
        if cas and cas["runaway"]:
            out.append(
                f"If support at {w['support']['price']:,.0f} breaks, the estimated cascade "
                f"does not stop on the map: it liquidates every long on it "
                f"({usd(cas['long_liquidated_usd'])}) with a book of "
                f"{usd(cas['impact']['depth_1pct_usd'])} per 1% (runaway)."
            )
        elif cas:
            out.append(
                f"If support at {w['support']['price']:,.0f} breaks, the estimated cascade "
                f"takes the price to {cas['final_price']:,.0f} ({cas['final_move']:+.1%}) and "
                f"liquidates {usd(cas['long_liquidated_usd'])} of longs."
            )
    return out


def usd(value: float | None) -> str:
    """Dollars scaled to K/M/B/T."""
    if value is None:
        return "n/a"
    sign, v = ("-" if value < 0 else ""), abs(value)
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= scale:
            return f"{sign}${v / scale:,.2f}{unit}"
    return f"{sign}${v:,.2f}"


def hm(ts: str | None) -> str:
    """``2026-02-06T00:00:00Z`` as ``2026-02-06 00:00 UTC``."""
    return "n/a" if ts is None else ts[:10] + " " + ts[11:16] + " UTC"
