from bot.llm.chunking import chunk_utterances, word_count
from bot.transcripts.model import Utterance


def utterances(count: int, words: int = 10) -> list[Utterance]:
    return [Utterance("S", " ".join([f"w{i}"] * words)) for i in range(count)]


def test_short_transcript_is_one_chunk() -> None:
    chunks = chunk_utterances(utterances(5), max_words=1000, overlap=2)
    assert len(chunks) == 1
    assert chunks[0].start == 0 and chunks[0].indices == range(0, 5)


def test_chunks_respect_the_word_budget_and_overlap() -> None:
    items = utterances(40)  # 11 words each with the speaker label
    chunks = chunk_utterances(items, max_words=100, overlap=3)
    assert len(chunks) > 1
    for chunk in chunks:
        assert sum(word_count(u) for u in chunk.utterances) <= 100
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start == before.stop - 3
    covered = {i for chunk in chunks for i in chunk.indices}
    assert covered == set(range(40))
    assert chunks[-1].stop == 40


def test_indexed_pairs_carry_global_indices() -> None:
    items = utterances(30)
    chunks = chunk_utterances(items, max_words=60, overlap=1)
    second = chunks[1]
    for index, utterance in second.indexed():
        assert items[index] is utterance


def test_oversized_utterance_gets_its_own_chunk_and_loop_ends() -> None:
    items = [Utterance("S", "x " * 500), Utterance("S", "short one"), Utterance("S", "x " * 500)]
    chunks = chunk_utterances(items, max_words=50, overlap=6)
    assert [c.indices for c in chunks][0] == range(0, 1)
    assert chunks[-1].stop == 3
    assert all(c.start < d.start for c, d in zip(chunks, chunks[1:], strict=False))


def test_empty_transcript_has_no_chunks() -> None:
    assert chunk_utterances([], max_words=10) == []
