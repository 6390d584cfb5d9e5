"""Golden digests: the SHA-256 of the event log of each preset under each rulebook (two seeds,
2,000 accounts, the preset's whole day) and of the liquidation sweep at 50,000 accounts.

These pin the engine byte for byte. A change that moves a digest on purpose updates the table
here and says which entries changed and why in its commit message; anything else is a bug.
"""

from __future__ import annotations

import pytest

from margincall.sim.kernel import Simulation
from margincall.sim.scenario import load_scenario
from margincall.sim.scripted_drop import START_PRICE, build_market, drop_to

ACCOUNTS = 2_000

# Five pins (calm/dydx/1, calm/hyperliquid/2, flash-crash/binance/1, flash-crash/dydx/2,
# feb-2026/bitmex/2) were recomputed on 2026-12-06 on an AVX2 machine (AMD EPYC), where the code
# that CI had passed on the earlier machine gave other digests for them. The likely cause: numpy's
# exp, log and power on arrays run other code on AVX-512 CPUs, last bit apart; the agents now call
# the C library for them (margincall.core.libm), which left every digest on this machine as it was.
# The six hyperliquid entries here and the hyperliquid sweep below: moved by Hyperliquid's
# three-part mark (rulebook mark "hyperliquid": the median of oracle + the
# 150 s EMA of the mid's basis, the book median and, a venue alone having no perp mids, the 30 s
# EMA of the book median, where it marked at the oracle).
PRESET_DIGESTS = {
    "calm/binance/1": "3459665a191d409656e548ae602fbb4c02b2e78ff94b856c1feefad820161980",
    "calm/binance/2": "c66ac0430cac67928c7bae3bce9dab50cc08c853d8cc0fd80ab02212d08032e5",
    "calm/bitmex/1": "b7b20405e1770f15545a9b725c101419a75f270974c6ac7178be78e65bf408aa",
    "calm/bitmex/2": "a31b25648d6979e2835f3155f40efbc1ce8bdebb80c4072f813f83a6c20afe0f",
    "calm/dydx/1": "4b8757d967a51858f9f65ae522f455c95bc2cd0f2b555a65614de182b88981cc",
    "calm/dydx/2": "23fd5f8f34bbfb4036b8a066df1d196849b576d66ff56f4587e23ad2a416e655",
    "calm/hyperliquid/1": "94fa2cd93bf2a9f071e77faf8bfc1c5b7ff376f71bf261fb28c24cc357a1086d",
    "calm/hyperliquid/2": "88e2b9bc9aefd817b3877a67c24bb25e1d3c9d576eb36ca3582a6573d646950b",
    "flash-crash/binance/1": "b2c266dd4bca6a2a8e9d7a18c4169a009cea9a79fb6144187ac5700a34a08197",
    "flash-crash/binance/2": "ce572cf4e749c61342b2dcb7e90dcef3295e206dc0e07e53f20e3cd6f117168a",
    "flash-crash/bitmex/1": "d66d7dfb8be81959f1fcbeacbb9d27511e4e91f47615eee3aacc76138cf62135",
    "flash-crash/bitmex/2": "d9f3ac009d750d1cdead3221a9d0c0a9c624fb0aa6c0cf349011fc021457b7c1",
    "flash-crash/dydx/1": "5d60e591364390b8e50ad294243bff5aca3618d9bb9def0460cc286f09315b2f",
    "flash-crash/dydx/2": "537c6a218fdadfb5f88803ae37e3cc16769c85ab51638bb99f0c58a120ae802a",
    "flash-crash/hyperliquid/1": "3dbe9ff1cbc7f12eff937f669d7b46a953ce95952a8e1df0fc13098a0c12fc65",
    "flash-crash/hyperliquid/2": "d104db7db5ad66148f70cf287cdd1b90b0a532e9602817cf6a95012e3e72bdcb",
    "feb-2026/binance/1": "960ae6985a9c339088cf70532eaf3ac080ca060adc9f8809f74d98d1ea26e23b",
    "feb-2026/binance/2": "22b11965eb68c5d99f9d2bb6a806b8df888076f93778bda500db5a9d061a69ab",
    "feb-2026/bitmex/1": "6e2c9788c619d6d9e3966b48b937661bcd3aa7e1ec8d9ea16c4c1d6bb11649c7",
    "feb-2026/bitmex/2": "44be7423374ce1a672ca05a797004bbb78652a51f6e338b838aeca53963b638a",
    "feb-2026/dydx/1": "da7057ce8605c3c2b3ed410f55a542ebea5c19efd85cd951274f838d48019b92",
    "feb-2026/dydx/2": "87d9b12b24d9f8866a2bb725584c4fc3be694c1315f7e3f791a9bd6845ccd492",
    "feb-2026/hyperliquid/1": "02005a4a76cc60e608803690faf3891ba2d2f0eddf0e498d8664970fc3369e45",
    "feb-2026/hyperliquid/2": "cd82bd3343ba67ba435f4b60d500ded42f12dfb20aaa25f5367b83f3ad70c41c",
}

SWEEP_ACCOUNTS = 50_000
SWEEP_DIGESTS = {
    "binance": "936e974741332f126138049cb01a65f510681e029613290179aae78bceda2061",
    "bitmex": "aff4be5ac0b3d91114ed3b59f0c6a930841dc8e136e1c80bad47bd83c3ff32e3",
    "dydx": "2908af78daf1f63c3a251f3043bae6acb3de4377d08b3c6f3245b240d3a29349",
    "hyperliquid": "25a65a70ab5bb51b4b8e46177185876df9808160b1a3a4a85e2b57852efe9d95",
}


def _preset_digest(preset: str, rulebook: str, seed: int) -> str:
    scenario = load_scenario(preset).with_overrides(accounts=ACCOUNTS, rulebook=rulebook)
    sim = Simulation(scenario, seed, keep_events=False)
    sim.run()
    return sim.venue.digest()


def sweep_digest(rulebook: str, accounts: int = SWEEP_ACCOUNTS, steps: int = 100) -> str:
    """The benchmark's liquidation sweep (the index down 15% in 100 steps), at a small size."""
    v, mm = build_market(accounts, rulebook=rulebook, keep_events=False)
    for s in range(1, steps + 1):
        v.advance(s * 1_000_000_000)
        drop_to(v, mm, START_PRICE * (1 - 0.15 * s / steps))
    v.check_invariants()
    return v.digest()


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(PRESET_DIGESTS))
def test_preset_event_log_is_unchanged(case):
    preset, rulebook, seed = case.split("/")
    assert _preset_digest(preset, rulebook, int(seed)) == PRESET_DIGESTS[case]


@pytest.mark.slow
@pytest.mark.parametrize("rulebook", sorted(SWEEP_DIGESTS))
def test_liquidation_sweep_event_log_is_unchanged(rulebook):
    assert sweep_digest(rulebook) == SWEEP_DIGESTS[rulebook]
