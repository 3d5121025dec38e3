"""Random-weight BERT token-classification checkpoints, built offline, for tests and benchmarks.

``save_token_classifier(directory)`` writes a tiny model (hidden 32, 2 layers) that loads in
milliseconds; ``size="base"`` writes a BERT-base-sized one (768 hidden, 12 layers, 12 heads,
30,522-token vocabulary) for speed measurements. The weights are random, so predictions are
noise: good for checking offsets, windows and throughput, not accuracy. The vocabulary is
generated (special tokens, characters, common English and contract words, ``##`` pieces), so
nothing is downloaded.

    python -m tests.tiny_models /tmp/bert-base-random --size base
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BASE_VOCAB_SIZE = 30_522  # bert-base-uncased's

Size = Literal["tiny", "base"]


class Dims(NamedTuple):
    hidden: int
    layers: int
    heads: int
    intermediate: int


SIZES: dict[str, Dims] = {"tiny": Dims(32, 2, 2, 64), "base": Dims(768, 12, 12, 3072)}

_WORD_LIST = """
the of and to a in is that for it as with be on by this are or at from which have an not will
any all such shall may its other under been their has was were upon each no more than into
party parties agreement contract services company corporation inc llc ltd limited section
article term terms notice written effective date payment fees amount days months years period
law laws state states new york california delaware texas london paris berlin tokyo
john jane smith doe mary james robert michael david william richard joseph thomas charles
acme globex initech umbrella stark wayne holdings group bank trust capital partners
license licensee licensor customer supplier vendor buyer seller client provider employer
employee confidential information intellectual property rights obligations termination
breach damages liability indemnify indemnification warranty warranties representations
governing jurisdiction court courts arbitration dispute disputes claims claim costs expenses
including without limitation provided however herein hereof hereto hereby thereof therein
whereas now therefore witness signed signature name title director officer president chief
executive financial secretary board members shareholders stock shares securities
exhibit schedule annex appendix page first second third year month day time period
january february march april may june july august september october november december
monday tuesday wednesday thursday friday street avenue road suite floor city county
dollars usd eur percent interest rate price prices total sum net gross annual monthly
product products software hardware system systems data report reports records audit
"""
WORDS = tuple(_WORD_LIST.split())


def build_vocab(size: int | None = None) -> list[str]:
    """A WordPiece vocabulary, deterministic: special tokens, printable characters and their
    ``##`` continuations (so any ASCII text tokenizes without [UNK]), the word list, then,
    up to ``size``, ``##`` two- and three-letter pieces and whole two- and three-letter strings."""
    chars = [c for c in string.printable if not c.isspace()] + list("§©®€£¶•’‘“”–—")
    lower_chars = [c for c in chars if not c.isupper()]
    vocab = list(SPECIAL_TOKENS)
    vocab += lower_chars
    vocab += [f"##{c}" for c in lower_chars]
    vocab += WORDS
    if size is not None:
        letters = string.ascii_lowercase
        fillers = itertools.chain(
            (f"##{a}{b}" for a, b in itertools.product(letters, repeat=2)),
            ("".join(pair) for pair in itertools.product(letters, repeat=2)),
            (f"##{a}{b}{c}" for a, b, c in itertools.product(letters, repeat=3)),
            ("".join(triple) for triple in itertools.product(letters, repeat=3)),
        )
        for piece in fillers:
            if len(vocab) >= size:
                break
            vocab.append(piece)
    unique = list(dict.fromkeys(vocab))
    return unique[:size] if size is not None else unique


def build_tokenizer(vocab: Sequence[str], max_length: int = 512):
    """A fast (Rust ``tokenizers``) uncased BERT WordPiece tokenizer over ``vocab``."""
    from transformers import BertTokenizer  # the fast one since transformers 5

    tokenizer = BertTokenizer(vocab={token: index for index, token in enumerate(vocab)}, do_lower_case=True)
    if not tokenizer.is_fast:
        raise RuntimeError("transformers >= 5 is needed: its BertTokenizer is the fast one")
    tokenizer.model_max_length = max_length
    return tokenizer


def token_classifier(size: Size = "tiny", *, labels: Sequence[str] = LABELS, seed: int = 0):
    """A random-weight ``BertForTokenClassification`` (eval mode, on the CPU) and its fast
    tokenizer, and the vocabulary, not saved."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    vocab = build_vocab(BASE_VOCAB_SIZE if size == "base" else None)
    dims = SIZES[size]
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=dims.hidden,
        num_hidden_layers=dims.layers,
        num_attention_heads=dims.heads,
        intermediate_size=dims.intermediate,
        max_position_embeddings=512,
        id2label=dict(enumerate(labels)),
        label2id={label: index for index, label in enumerate(labels)},
    )
    torch.manual_seed(seed)
    model = BertForTokenClassification(config).eval()
    return model, build_tokenizer(vocab, max_length=config.max_position_embeddings), vocab


def save_token_classifier(
    directory: str | Path, size: Size = "tiny", *, labels: Sequence[str] = LABELS, seed: int = 0
) -> Path:
    """Write a random-weight ``BertForTokenClassification`` checkpoint (config.json,
    model.safetensors, fast tokenizer files and vocab.txt) to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model, tokenizer, vocab = token_classifier(size, labels=labels, seed=seed)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    # vocab.txt too, as real BERT checkpoints ship it (and the slow tokenizer reads it).
    (directory / "vocab.txt").write_text("".join(f"{token}\n" for token in vocab), encoding="utf-8")
    return directory


def make_slow_tokenizer(directory: str | Path) -> Path:
    """Turn a saved checkpoint into one whose tokenizer loads as a slow (Python) tokenizer:
    no tokenizer.json, ``BertTokenizerLegacy`` named in tokenizer_config.json."""
    directory = Path(directory)
    (directory / "tokenizer.json").unlink(missing_ok=True)
    config_path = directory / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text(encoding="utf-8"))
    tokenizer_config["tokenizer_class"] = "BertTokenizerLegacy"
    config_path.write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")
    return directory


def sample_text(n_words: int, seed: int = 0) -> str:
    """Contract-like text of ``n_words`` vocabulary words with capitals, punctuation and
    paragraph breaks, deterministic for a seed."""
    rng = random.Random(seed)
    pieces: list[str] = []
    for index in range(n_words):
        word = rng.choice(WORDS)
        if rng.random() < 0.25:
            word = word.capitalize()
        pieces.append(word)
        roll = rng.random()
        if roll < 0.06:
            pieces.append(". ")
        elif roll < 0.1:
            pieces.append(", ")
        elif roll < 0.11 and index:
            pieces.append(".\n\n")
        else:
            pieces.append(" ")
    return "".join(pieces).strip()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(save_token_classifier(args.directory, args.size, seed=args.seed))


if __name__ == "__main__":
    main()
