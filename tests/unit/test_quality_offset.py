import numpy as np

from quality.offset import best_offset


def _moving(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, size=(n, 9, 16)).astype(np.float32)


def test_finds_a_positive_delay_with_high_confidence() -> None:
    ref = _moving(60)
    noise = np.random.default_rng(2).normal(0, 4, size=(65, 9, 16)).astype(np.float32)
    dist = np.concatenate([np.full((5, 9, 16), 128, np.float32), ref]) + noise
    est = best_offset(ref, dist, window=10)
    assert est.offset == 5
    assert est.confidence > 0.8


def test_finds_a_negative_delay() -> None:
    ref = _moving(60)
    dist = ref[3:]
    assert best_offset(ref, dist, window=6).offset == -3


def test_static_content_is_inconclusive() -> None:
    frame = _moving(1)[0]
    ref = np.stack([frame] * 40)
    est = best_offset(ref, ref.copy(), window=5)
    assert est.offset == 0
    assert est.confidence == 0.0
