"""The one bounded cache (bot/lru.py)."""
from bot.lru import LRU


def test_the_least_recently_used_goes_first():
    seen = LRU(2)
    seen.put("a", 1)
    seen.put("b", 2)
    assert seen.get("a") == 1  # used: "b" is now the oldest
    seen.put("c", 3)
    assert "b" not in seen and seen.get("a") == 1 and seen.get("c") == 3 and len(seen) == 2


def test_a_weighed_cache_keeps_its_total_under_its_size():
    texts = LRU(10, weigh=len)
    for word in ("abcd", "efgh", "ijkl"):
        texts.put(word, word)
    assert "abcd" not in texts and texts.get("ijkl") == "ijkl"
    texts.put("efgh", "efgh")  # replaced, not counted twice
    assert len(texts) == 2


def test_dropping_and_a_size_of_zero():
    seen = LRU(5)
    for key in ("private:1", "private:2", "group:3:4"):
        seen.put(key, 0)
    seen.drop(lambda key: key.startswith("private"))
    assert list(k for k in ("private:1", "private:2", "group:3:4") if k in seen) == ["group:3:4"]
    assert seen.pop("group:3:4") == 0 and seen.pop("nothing", "none") == "none"
    off = LRU(0)
    off.put("a", 1)
    assert off.get("a") is None
