"""The tokenizer: user terms stay whole, stopwords go, widths and scripts don't matter."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.tokenization import (
    DEFAULT_STOPWORDS,
    Tokenizer,
    build_user_terms,
    normalize_text,
    quoted_terms,
)

SEED = Path(__file__).resolve().parents[1] / "corpus" / "documents" / "weihai-2026-industrial-action-plan.txt"
USER_TERMS = ["头号工程", "小快轻准", "智改数转网联", "市工业和信息化局"]


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """One tokenizer for the module: loading jieba takes about a second."""
    return Tokenizer(USER_TERMS)


@pytest.fixture(scope="module")
def plain() -> Tokenizer:
    """No user terms, no bigrams: jieba's own cut, minus stopwords."""
    return Tokenizer(char_bigrams=False)


@pytest.fixture(scope="module")
def plain_with_dict() -> Tokenizer:
    """The user terms, whole, and nothing else: no parts, no bigrams."""
    return Tokenizer(USER_TERMS, expand_user_terms=False, char_bigrams=False)


# normalize_text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("（一）", "(一)"),
        ("增长７％以上", "增长7%以上"),
        ("ＡＩ＋制造", "ai+制造"),
        ("數位轉型", "数位转型"),
        ("頭號工程", "头号工程"),
        ("", ""),
    ],
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


# user terms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("深入实施工业经济“头号工程”，夯实工业经济“压舱石”地位", "头号工程"),
        ("优选一批“小快轻准”产品和解决方案", "小快轻准"),
        ("9. 加力推进智改数转网联。构建智能制造梯度培育体系", "智改数转网联"),
        ("（市工业和信息化局、商务局按职责分工负责）", "市工业和信息化局"),
        ("(市工业和信息化局负责)", "市工业和信息化局"),
    ],
)
def test_user_terms_stay_whole(tokenizer, plain, text, term):
    assert term in tokenizer(text)
    assert term not in plain(text)  # it is the user dictionary that keeps it whole


def test_user_term_is_followed_by_its_parts(tokenizer):
    tokens = tokenizer("工业经济“头号工程”")
    assert {"头号工程", "头号", "工程"} <= set(tokens)


def test_exact_tokens_without_bigrams_or_parts(plain_with_dict):
    assert plain_with_dict("工业经济“头号工程”") == ["工业", "经济", "头号工程"]
    assert plain_with_dict.user_terms == tuple(USER_TERMS)


def test_user_terms_do_not_change_the_rest_of_the_text(plain_with_dict, plain):
    for text in [
        "全年实施总投资 500 万元以上技改项目 400 个",
        "一体推进创新载体建设、技术成果转化、产品迭代升级和商业模式探索",
        "争取中韩“四港联动”整车运输常态化运行",
    ]:
        assert plain_with_dict(text) == plain(text)


def test_user_terms_are_normalised_and_deduplicated():
    tokenizer = Tokenizer(["頭號工程", "头号工程", " ", "ＡＢ＋"])
    assert tokenizer.user_terms == ("头号工程", "ab+")
    assert not tokenizer.loaded  # nothing is loaded before the first call


def test_quoted_terms():
    text = (
        "工业经济“头号工程”和\"小快轻准\"以及「专精特新」、『一张网』；"
        "“正”印认证太短，“前期预判+动态跟进+复盘提升”太长；“技能\n\n兴威”跨页；再提“头号工程”。"
    )
    assert quoted_terms(text) == ["头号工程", "小快轻准", "专精特新", "一张网", "技能兴威"]


def test_quoted_terms_in_order_without_duplicates():
    assert quoted_terms("“头号工程”，“小快轻准”，“头号工程”") == ["头号工程", "小快轻准"]
    assert quoted_terms("没有引号") == []


def test_quoted_terms_of_the_seed_document(seed_text):
    terms = quoted_terms(seed_text)
    assert {"头号工程", "小快轻准", "人工智能+制造", "揭榜挂帅", "技能兴威"} <= set(terms)
    assert all(2 <= len(term) <= 12 for term in terms)


def test_build_user_terms_from_the_seed_document(seed_text, plain):
    titles = re.findall(r"^\d+\.\s*([^。\n]+)。", seed_text, flags=re.M)
    assert len(titles) == 21
    terms = build_user_terms(titles, ["市工业和信息化局", "人民银行威海市分行"], quoted_terms(seed_text))
    # titles give the subject after their leading verbs
    assert {"智改数转网联", "工贸协同", "科工一体", "重点行业稳增长"} <= set(terms)
    assert not any(term.startswith(("加力推进", "强化", "推动")) for term in terms)
    # quoted terms, split where jieba cannot keep them whole
    assert {"头号工程", "小快轻准", "好品威海", "商通四海", "引校进厂", "引厂入校"} <= set(terms)
    assert "好品威海·商通四海" not in terms
    assert {"市工业和信息化局", "人民银行威海市分行"} <= set(terms)
    assert len(terms) == len(set(terms))

    tokenizer = Tokenizer(terms)
    assert "智改数转网联" in tokenizer("加力推进智改数转网联")
    assert "工贸协同" in tokenizer("强化工贸协同")
    assert "工贸协同" not in plain("强化工贸协同")


def test_build_user_terms_normalises():
    assert build_user_terms(quoted_terms=["頭號工程", "头号工程", "首台(套)", "x"]) == ["头号工程", "首台"]


# stopwords, punctuation, numbers ----------------------------------------------------


def test_stopwords_are_removed(tokenizer):
    tokens = tokenizer("请问我们企业有哪些支持政策呢？怎么办？")
    for word in ["请问", "我们", "有", "哪些", "呢", "怎么办", "？"]:
        assert word not in tokens
    assert {"企业", "支持", "政策"} <= set(tokens)  # content words are kept


def test_no_token_is_a_stopword_or_punctuation(tokenizer, seed_text):
    tokens = tokenizer(seed_text)
    assert tokens
    assert not set(tokens) & DEFAULT_STOPWORDS
    assert all(any(ch.isalnum() for ch in token) for token in tokens)


def test_custom_stopwords():
    tokenizer = Tokenizer(stopwords={"企业"}, char_bigrams=False)
    assert tokenizer("企业的贷款") == ["的", "贷款"]


def test_numbers_are_kept(tokenizer):
    tokens = tokenizer("力争新增产值 190 亿元，全市规模以上工业增加值同比增长 7%以上")
    assert {"190", "7%", "亿元"} <= set(tokens)


def test_bigrams_join_content_words_but_not_across_stopwords(tokenizer):
    assert {"贷款", "款难"} <= set(tokenizer("贷款难怎么办？"))
    assert "款难" not in tokenizer("贷款，难")
    assert "款的" not in tokenizer("贷款的难处")


# widths and scripts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("full_width", "half_width"),
    [
        ("培育首台（套）技术装备等“四首”新产品 20 个；增长７％以上。", "培育首台(套)技术装备等\"四首\"新产品 20 个;增长7%以上."),
        ("（一）强化金融助力：ＡＩ应用，覆盖率达到９８％！", "(一)强化金融助力:ai应用,覆盖率达到98%!"),
        ("（市工业和信息化局负责）", "(市工业和信息化局负责)"),
    ],
)
def test_full_and_half_width_give_the_same_tokens(tokenizer, full_width, half_width):
    assert tokenizer(full_width) == tokenizer(half_width)


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("數位轉型", "数位转型"),
        ("大力實施工業經濟「頭號工程」", "大力实施工业经济“头号工程”"),
        ("專精特新企業貸款難怎麼辦？", "专精特新企业贷款难怎么办？"),
    ],
)
def test_traditional_gives_the_same_tokens_as_simplified(tokenizer, traditional, simplified):
    assert tokenizer(traditional) == tokenizer(simplified)
    assert tokenizer(traditional)


# robustness ------------------------------------------------------------------------------

_SEED_CHARS = sorted(set(SEED.read_text(encoding="utf-8")))
_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(_SEED_CHARS + list("（）()“”\"「」，,。. \t\n\u3000％%＋+"))),
)


@settings(max_examples=300, deadline=None)
@given(_text)
def test_tokenizer_never_raises_and_tokens_are_clean(tokenizer, text):
    tokens = tokenizer(text)
    assert isinstance(tokens, list)
    for token in tokens:
        assert isinstance(token, str) and token
        assert not any(ch.isspace() for ch in token)
        assert token not in DEFAULT_STOPWORDS


def test_odd_inputs(tokenizer):
    assert tokenizer("") == []
    assert tokenizer("？？！，。、；：“”（）   \n\t") == []
    assert tokenizer("的了吗呢") == []
    long_text = "智能工厂有哪些支持？" * 1000
    assert len(tokenizer(long_text)) > 1000


def test_concurrent_first_calls_load_jieba_once():
    loads = []

    class Counting(Tokenizer):
        def _load_jieba(self):
            loads.append(1)
            return super()._load_jieba()

    tokenizer = Counting(USER_TERMS)
    results: list[list[str]] = []
    barrier = threading.Barrier(8)

    def work():
        barrier.wait()
        results.append(tokenizer("加力推进智改数转网联，打造“小快轻准”产品"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1
    assert len(results) == 8 and all(result == results[0] for result in results)
    assert "智改数转网联" in results[0]


def test_jiebas_cache_read_whole_gives_what_jieba_loads(tmp_path):
    import jieba

    from corpus.jieba_words import _load_jieba_cache

    ours = jieba.Tokenizer()
    ours.tmp_dir = str(tmp_path)
    assert _load_jieba_cache(ours) is False and not ours.initialized  # no cache there yet
    theirs = jieba.Tokenizer()
    theirs.tmp_dir = str(tmp_path)
    theirs.initialize()  # builds the dictionary and writes jieba's cache in tmp_path
    assert (tmp_path / "jieba.cache").is_file()
    assert _load_jieba_cache(ours) is True and ours.initialized
    assert ours.total == theirs.total and ours.FREQ == theirs.FREQ
    (tmp_path / "jieba.cache").write_bytes(b"not marshal")
    broken = jieba.Tokenizer()
    broken.tmp_dir = str(tmp_path)
    assert _load_jieba_cache(broken) is False


def test_a_word_guessed_across_a_conjunction_is_split_there():
    from index.tokenization import Tokenizer

    words = Tokenizer().words("数据集和绿电产业园分别由哪些部门负责？")
    assert "和" in words and not any("和" in w and len(w) > 1 for w in words), words
    kept = Tokenizer(user_terms=["市工业和信息化局"]).words("市工业和信息化局负责")
    assert "市工业和信息化局" in kept, kept  # a dictionary word keeps its 和
