"""The truth cache: content-addressed, atomic, byte-identical for the same seed."""

from __future__ import annotations

from pathlib import Path

from stochbox.reference.cache import ReferenceCache, default_cache_dir, reference_key, reference_seed
from stochbox.scenarios import load_pack
from stochbox.seeding import derive_seed


def _scenario(pack_dir: Path, sid: str):
    return next(s for s in load_pack(pack_dir).scenarios if s.id == sid)


def test_same_seed_gives_byte_identical_files_in_separate_caches(tiny_pack, sandbox, tmp_path):
    sc = _scenario(tiny_pack, "coin")
    a, b = ReferenceCache(tmp_path / "a"), ReferenceCache(tmp_path / "b")
    sa, cached_a = a.get(sc, 300, 7, sandbox)
    sb, cached_b = b.get(sc, 300, 7, sandbox)
    assert not cached_a and not cached_b
    key = a.ref(sc, 300, 7).key
    assert a.path_for(key).read_bytes() == b.path_for(key).read_bytes()
    assert sa == sb and len(sa) == 300 and set(sa) == {"heads", "tails"}
    # a second call is a cache hit with the same values, and no temporary files remain
    again, cached = a.get(sc, 300, 7, sandbox)
    assert cached and again == sa
    assert [p.name for p in a.path_for(key).parent.iterdir()] == [f"{key}.json"]


def test_key_covers_code_n_and_seed(tiny_pack):
    sc = _scenario(tiny_pack, "expo")
    base = reference_key(sc, 100, 1)
    assert reference_key(sc, 101, 1) != base
    assert reference_key(sc, 100, 2) != base
    edited = sc.model_copy(update={"ground_truth": sc.ground_truth.model_copy(update={"code": sc.ground_truth.code + "\n"})})
    assert reference_key(edited, 100, 1) != base
    unbatched = sc.model_copy(update={"ground_truth": sc.ground_truth.model_copy(update={"batch": False})})
    assert reference_key(unbatched, 100, 1) != base


def test_reference_seed_is_derived_from_root_seed_and_scenario():
    assert reference_seed(5, "coin") == derive_seed(5, "reference", "coin")
    assert reference_seed(5, "coin") != reference_seed(5, "expo")


def test_different_seeds_give_different_samples(tiny_pack, sandbox, tmp_path):
    sc = _scenario(tiny_pack, "expo")
    cache = ReferenceCache(tmp_path)
    s1, _ = cache.get(sc, 50, 1, sandbox)
    s2, _ = cache.get(sc, 50, 2, sandbox)
    assert s1 != s2


def test_a_damaged_cache_file_is_regenerated_not_trusted(tiny_pack, sandbox, tmp_path):
    sc = _scenario(tiny_pack, "expo")
    cache = ReferenceCache(tmp_path)
    good, _ = cache.get(sc, 50, 1, sandbox)
    path = cache.path_for(cache.ref(sc, 50, 1).key)
    path.write_text(path.read_text()[:40])
    again, cached = cache.get(sc, 50, 1, sandbox)
    assert not cached and again == good


def test_cache_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STOCHBOX_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    assert ReferenceCache().root == tmp_path / "x"
