"""``Dice`` draws and ids: the fast forms draw exactly what the plain formulas draw."""

from __future__ import annotations

import random
import uuid

from crm_gym.generator.pools import Dice, new_uuid


def test_pick_shuffle_and_integers_match_the_plain_formulas():
    dice, plain = Dice("pools"), random.Random("pools")
    for n in range(1, 60):
        items = tuple(range(n))
        for _ in range(50):
            assert dice.pick(items) == items[int(plain.random() * n)]
        order, expected = list(items), list(items)
        dice.shuffle(order)
        for i in range(n - 1, 0, -1):
            j = int(plain.random() * (i + 1))
            expected[i], expected[j] = expected[j], expected[i]
        assert order == expected
        assert dice.integers(-n, n) == -n + int(plain.random() * 2 * n)


def test_new_uuid_is_the_version_4_uuid_of_the_next_128_bits():
    dice, plain = Dice("ids"), random.Random("ids")
    for _ in range(5000):
        expected = uuid.UUID(int=plain.getrandbits(128), version=4)
        assert new_uuid(dice) == str(expected)
