"""P8 (portfolio-margin.md): a dYdX subaccount with two perps, in the engine.

USDC 12,000; BTC +2 from 100,000 (oracle 100,000); ETH -50 from 4,000. TNC = 12,000 - 50 x
(P - 4,000), TMMR = 2,400 + 50 x P x 1.2%: liquidatable once ETH passes 209,600 / 50.6 =
4,142.292490, i.e. from the tick 4,142.3 (the rulebook's ETH tick is 0.1; the vector's first
cent 4,142.30 is the same price). The rulebook's data match the vector's (IMF 2%, maintenance
fraction 60%, BTC step 0.0001 and tick 1, ETH step 0.001 and tick 0.1, portion 10%, minimum
1,000 USDC, fee cap 1.5%, SMMR 150%), so the close figures at ETH 4,150 are the vector's:
offset 0 sells 0.2 BTC (limit 99,857; a bid at 99,900 fills it: the fund gets the whole surplus
over the bankruptcy quote, 200.858895, and the subaccount's USDC is 31,779.141105); offset 1
buys 5 ETH (limit 4,155.9). The vector gives no ETH fill; the figures of a fill at 4,152.0 are
computed below from the same formulas. The offset is the engine's: its seeded generator, read
and stepped here.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction as F

import pytest

from margincall.events.schema import EventKind
from margincall.venue.accounts import RNG
from margincall.venue.portfolio import PortfolioVenue

USD = 1_000_000
QQ = F(1, USD)  # a quote quantum, in USDC
MMF = F(2, 100) * F(6, 10)  # IMF 2% x maintenance fraction 60%


def _offset(state: int, n: int) -> int:
    """The engine's draw (venue.adl.next_random: a 63-bit LCG) from generator state ``state``,
    modulo ``n`` open positions."""
    x = (state * 6364136223846793005 + 1442695040888963407) % (1 << 63)
    return (x >> 16) % n


def _p8(seed: int, eth: str) -> tuple[PortfolioVenue, int, int]:
    """P8's subaccount (and a market maker holding the other sides), ETH's oracle at ``eth``."""
    pv = PortfolioVenue(
        "dydx", {"BTCUSDT": 100_000, "ETHUSDT": 4_000}, insurance_fund_usd=1_000_000, seed=seed
    )
    mm = pv.open_account(100_000_000, leverage=5)
    a = pv.open_account(12_000, leverage=50)  # IMF 2%: TIMR 8,000
    pv.block_trades("BTCUSDT", [a], ["2"], 100_000, mm)
    pv.block_trades("ETHUSDT", [a], ["-50"], 4_000, mm)
    assert pv.margin(a) == (12_000 * USD, 4_800 * USD)  # TNC and TMMR at ETH 4,000
    pv.set_index_price("ETHUSDT", eth)
    pv.update_marks()
    return pv, a, mm


def _seed_for(offset: int) -> int:
    """A seed whose first draw is ``offset`` over two positions."""
    for seed in range(64):
        pv = PortfolioVenue("dydx", {"BTCUSDT": 100_000}, seed=seed)
        if _offset(int(pv.legs[0].meta[RNG]), 2) == offset:
            return seed
    raise AssertionError("no seed in 0..63 draws this offset")


def _threshold() -> F:
    """ETH's continuous threshold: 12,000 - 50 (P - 4,000) = 2,400 + 50 P MMF."""
    return F(12_000 + 50 * 4_000 - 2_400) / (50 + 50 * MMF)


def test_p8_threshold_and_first_breaching_tick() -> None:
    assert round(_threshold(), 6) == F("4142.292490")
    tick = F(1, 10)
    first = -(-_threshold() // tick) * tick  # a short breaches upwards: rounded up
    assert first == F("4142.3")
    pv, a, _ = _p8(0, "4142.2")
    events = pv.run_liquidations()
    assert not [e for e in events if e["kind"] == EventKind.LIQUIDATION_TRIGGERED]
    pv.set_index_price("ETHUSDT", "4142.3")
    pv.update_marks()
    state = int(pv.legs[0].meta[RNG])
    events = pv.run_liquidations()
    triggered = [e for e in events if e["kind"] == EventKind.LIQUIDATION_TRIGGERED]
    assert [int(e["account"]) for e in triggered] == [a]
    # the leg tried first: the rotation from the engine's draw over positions [BTC, ETH]
    assert int(triggered[0]["instrument"]) == _offset(state, 2)
    pv.check_invariants()


def _figures(leg: str) -> dict[str, F]:
    """P8 at ETH 4,150 by hand: the first close of ``leg``, its limit, its bankruptcy quote,
    and for the fill the test makes (BTC 0.2 at 99,900; ETH 5 at 4,152.0) the fund's share and
    the subaccount's USDC after."""
    btc, eth = F(100_000), F(4_150)
    tnc = 12_000 + 2 * btc - 50 * eth
    tmmr = (2 * btc + 50 * eth) * MMF
    abr = 1 - tnc / tmmr
    assert (tnc, tmmr, abr) == (4_500, 4_890, F(13, 163))
    if leg == "BTCUSDT":
        size = max(F(1_000), 2 * btc / 10) / btc  # 0.2 BTC
        mm_gone = size * btc * MMF
        limit = -(-(btc - abr * F(3, 2) * mm_gone / size) // 1)  # a sell: up to the $1 tick
        quote = size * F(99_900)
        bq = size * btc - (tnc * mm_gone / QQ // tmmr) * QQ  # BQ(delta), quantums rounded down
    else:
        size = 50 * eth / 10 / eth  # 5 ETH
        mm_gone = size * eth * MMF
        limit = (eth + abr * F(3, 2) * mm_gone / size) // F(1, 10) * F(1, 10)  # a buy: down
        quote = -size * F("4152.0")
        bq = -size * eth - (tnc * mm_gone / QQ // tmmr) * QQ
    usdc_before = 12_000 - 2 * 100_000 + 50 * 4_000  # cash less the entry costs
    fund = min(quote - bq, abs(quote) * F(15, 1_000))
    return {
        "size": size,
        "limit": limit,
        "bq": bq,
        "fund": fund,
        "usdc": usdc_before + quote - fund,
    }


@pytest.mark.parametrize(("offset", "leg"), [(0, "BTCUSDT"), (1, "ETHUSDT")])
def test_p8_first_close_size_price_fund_and_cash(offset: int, leg: str) -> None:
    f = _figures(leg)
    if leg == "BTCUSDT":
        assert f["size"] == F(1, 5) and f["limit"] == 99_857
        assert f["bq"] == F(19_779_141_105, USD) and f["fund"] == F(200_858_895, USD)
        assert f["usdc"] == F(31_779_141_105, USD)
    else:
        assert f["size"] == 5 and f["limit"] == F("4155.9")
        assert f["bq"] == F(-20_979_141_104, USD) and f["fund"] == F(219_141_104, USD)
        assert f["usdc"] == F(-8_979_141_104, USD)  # 12,000 - 20,760 - 219.141104
    pv, a, mm = _p8(_seed_for(offset), "4150")
    # the book: the maker's bid at 99,900 and ask at 4,152.0 (the only quotes)
    pv.submit_order(mm, "BTCUSDT", "buy", "0.2", 99_900)
    pv.submit_order(mm, "ETHUSDT", "sell", "5", "4152.0")
    fund_before = [int(v.acc.wallet[0]) for v in pv.legs]
    assert _offset(int(pv.legs[0].meta[RNG]), 2) == offset
    events = pv.run_liquidations()
    j = pv.symbols.index(leg)
    v = pv.legs[j]
    accepted = [e for e in events if e["kind"] == EventKind.ORDER_ACCEPTED and e["account"] == a]
    assert [int(e["instrument"]) for e in accepted] == [j]  # one leg in this block
    assert v.scale.lots_to_qty(int(accepted[0]["qty"])) == f["size"]
    assert v.scale.ticks_to_price(int(accepted[0]["price"])) == Decimal(str(float(f["limit"])))
    other = pv.symbols[1 - j]
    assert pv.position(a, leg)["qty"] == (Decimal("1.8") if j == 0 else Decimal(-45))
    assert pv.position(a, other)["qty"] == (Decimal(-50) if j == 0 else Decimal(2))
    fund_delta = [int(v.acc.wallet[0]) - b for v, b in zip(pv.legs, fund_before, strict=True)]
    assert fund_delta[j] == f["fund"] * USD and fund_delta[1 - j] == 0
    # dYdX's USDC balance = the engine's cash less the open legs' entry cost
    cost = sum(int(v.acc.cost[a]) for v in pv.legs)
    assert pv.cash_usd(a) * USD - cost == f["usdc"] * USD
    tmmr_after = sum(
        abs(F(pv.position(a, s)["qty"])) * p * MMF
        for s, p in (("BTCUSDT", 100_000), ("ETHUSDT", 4_150))
    )
    tnc_after = f["usdc"] + F(pv.position(a, "BTCUSDT")["qty"]) * 100_000
    tnc_after += F(pv.position(a, "ETHUSDT")["qty"]) * 4_150
    assert pv.margin(a) == (tnc_after * USD, tmmr_after * USD)
    if leg == "BTCUSDT":  # the vector's figures after the fill: the ratio is unchanged
        assert (tnc_after, tmmr_after) == (F("4279.141105"), 4_650)
        assert tnc_after / tmmr_after == pytest.approx(4_500 / 4_890, abs=1e-6)
    pv.check_invariants()
