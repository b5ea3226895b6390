"""The bot's arithmetic: ladder on the grid, fewest requote actions, skew, walk, inventory room."""

from __future__ import annotations

import random

import pytest

from exchange.config import load_venue
from exchange.demo.quotes import (
    BUY,
    MAX_DEVIATION,
    SELL,
    Action,
    Budget,
    MidWalk,
    Quote,
    Resting,
    Wallet,
    atomic,
    brings_in,
    ladder,
    plan,
    skew,
    steps,
    taker_order,
    top_up,
)

SOL = load_venue().markets["SOL_USDC"]


def _resting(quotes: list[Quote]) -> list[Resting]:
    return [Resting(f"{q.side}{q.price}", q.side, q.price, q.qty, 0) for q in quotes]


@pytest.mark.parametrize("center", [15000, 15001, 15002, 15003, 15004, 15005, 1_000_003])
def test_ladder_any_center_has_sides_apart_on_the_spacing_grid(center: int) -> None:
    quotes = ladder(center, levels=5, spacing=5, size=200, max_price=10**9)
    bids = [q.price for q in quotes if q.side == BUY]
    asks = [q.price for q in quotes if q.side == SELL]
    assert len(asks) == 5
    assert max(bids) < center < min(asks)
    assert all(p % 5 == 0 and p > 0 for p in bids + asks)
    assert sorted(bids, reverse=True) == bids and sorted(asks) == asks  # nearest first


def test_ladder_inside_one_cell_does_not_change() -> None:
    assert ladder(15006, 5, 10, 100, 10**9) == ladder(15014, 5, 10, 100, 10**9)
    assert ladder(15006, 5, 10, 100, 10**9) != ladder(15016, 5, 10, 100, 10**9)


def test_ladder_deeper_levels_are_not_smaller_and_bids_stay_positive() -> None:
    quotes = ladder(12, levels=5, spacing=5, size=3, max_price=10**9)
    assert [q.qty for q in quotes if q.side == SELL] == [3, 4, 6, 7, 9]
    assert [q.price for q in quotes if q.side == BUY] == [5]  # 0 and below are dropped


def test_skew_leans_against_inventory_and_is_bounded() -> None:
    assert skew(100, 100, 10) == 0
    assert skew(150, 100, 10) == -5  # long: quotes move down
    assert skew(50, 100, 10) == 5
    assert skew(10_000, 100, 10) == -10
    assert skew(0, 0, 10) == 0


def test_plan_for_the_ladder_already_resting_does_nothing() -> None:
    wanted = ladder(15000, 5, 5, 100, 10**9)
    assert plan(wanted, _resting(wanted)) == []


def test_plan_after_a_move_up_moves_one_order_per_side_asks_first() -> None:
    before = ladder(15000, 3, 5, 100, 10**9)
    after = ladder(15005, 3, 5, 100, 10**9)
    actions = plan(after, _resting(before))
    assert [(a.kind, a.side) for a in actions] == [("amend", SELL), ("amend", BUY)]
    ask, bid = actions
    assert (ask.old_price, ask.price) == (15005, 15020)  # the nearest ask goes to the far end
    assert (bid.old_price, bid.price) == (14985, 15000)  # the farthest bid becomes the nearest
    assert (ask.remaining, bid.remaining) == (200, 100)  # sized for the level it lands on


def test_plan_shrinks_in_place_refills_under_half_and_cancels_extras() -> None:
    wanted = [Quote(BUY, 100, 10, 0), Quote(BUY, 95, 10, 1)]
    resting = [
        Resting("a", BUY, 100, 30, 0),  # over twice the level: shrink, same price
        Resting("b", BUY, 95, 10, 6),  # 4 left of 10: refill to executed + 10
        Resting("c", BUY, 90, 10, 0),  # not wanted: cancel
    ]
    actions = {a.order_id: a for a in plan(wanted, resting)}
    assert actions["c"].kind == "cancel"
    assert (actions["a"].kind, actions["a"].price, actions["a"].remaining) == ("amend", 100, 10)
    assert (actions["b"].price, actions["b"].executed + actions["b"].remaining) == (95, 16)
    assert plan(wanted, resting)[0].kind == "cancel"


def test_plan_from_nothing_places_every_level() -> None:
    wanted = ladder(15000, 4, 5, 100, 10**9)
    actions = plan(wanted, [])
    assert {a.kind for a in actions} == {"place"}
    assert sorted((a.side, a.price, a.remaining) for a in actions) == sorted(
        (q.side, q.price, q.qty) for q in wanted
    )


def test_walk_reverts_and_never_runs_away() -> None:
    rng = random.Random(3)
    walk = MidWalk(15000, volatility=0.01, reversion=0.05)
    seen = [walk.step(0.5, rng.gauss(0, 1)) for _ in range(20_000)]
    assert all(isinstance(t, int) for t in seen)
    low, high = 15000 * 0.77, 15000 * 1.29
    assert all(low <= t <= high for t in seen)
    assert abs(sum(seen) / len(seen) - 15000) < 15000 * 0.02
    assert abs(MidWalk(100, 0.0, 0.0, x=5.0).x) == MAX_DEVIATION


def test_walk_without_volatility_goes_back_to_its_start() -> None:
    walk = MidWalk(15000, volatility=0.0, reversion=0.5, x=0.1)
    for _ in range(200):
        walk.step(0.5, 1.0)
    assert walk.ticks() == 15000


def test_amounts_and_steps_are_exact_and_zero_is_allowed() -> None:
    assert atomic("0", 6) == 0
    assert atomic("12.5", 6) == 12_500_000
    assert steps("0.00", SOL.qty) == 0
    assert steps("1.25", SOL.qty) == 125
    with pytest.raises(ValueError):
        steps("1.255", SOL.qty)
    with pytest.raises(ValueError):
        atomic("0.0000001", 6)


def test_budget_refuses_what_would_pass_the_room_and_counts_only_an_amends_increase() -> None:
    place = Action("place", BUY, 15000, 100, 0)  # brings in 1 SOL, locks 150 USDC
    sol_in = brings_in(SOL, BUY, 15000, 100)[1]
    budget = Budget({"SOL": sol_in, "USDC": 0}, {"USDC": 10**12})
    assert budget.take(SOL, place)
    assert not budget.take(SOL, place)  # the room is used up
    same_size_move = Action("amend", BUY, 15005, 100, 0, "x", 15000, 100)
    assert budget.take(SOL, same_size_move)  # brings in no more SOL, locks 0.05 USDC more
    assert budget.free["USDC"] == 10**12 - SOL.notional(15005, 100)


def test_top_up_waits_for_half_then_refills_to_target_within_the_cap() -> None:
    assert top_up(held=60, incoming=0, cap=200, target=100) == 0
    assert top_up(held=40, incoming=0, cap=200, target=100) == 60
    assert top_up(held=40, incoming=130, cap=200, target=100) == 30
    assert top_up(held=40, incoming=500, cap=200, target=100) == 0


def test_taker_orders_never_promise_more_than_the_room_left() -> None:
    rng = random.Random(11)
    cap = {"SOL": 10 * 10**9, "USDC": 2000 * 10**6}
    for _ in range(2000):
        held = {"SOL": rng.randint(0, cap["SOL"]), "USDC": rng.randint(0, cap["USDC"])}
        wallet = Wallet(held, dict(held), cap, {k: v // 2 for k, v in cap.items()})
        order = taker_order(SOL, 300, 5, (15000, 15005), wallet, rng)
        if order is None:
            continue
        if order.side == BUY:
            assert held["SOL"] + SOL.base_amount(order.qty) <= cap["SOL"]
        else:
            assert held["USDC"] + SOL.notional(15000, order.qty) <= cap["USDC"]
        assert order.qty >= SOL.min_qty and SOL.notional(15000, order.qty) >= SOL.min_notional


def test_taker_with_no_room_and_an_empty_side_sends_nothing() -> None:
    full = {"SOL": 10**9, "USDC": 10**9}
    wallet = Wallet(full, full, full, full)
    assert taker_order(SOL, 300, 5, (15000, None), wallet, random.Random(1)) is None
    assert taker_order(SOL, 300, 5, (None, None), Wallet({}, {}, full, full), random.Random(1)) is None
