from __future__ import annotations

from pipelines.text import is_mostly_cjk, split_sentences, terms, word_count


def test_english_sentences_split_on_punctuation_but_not_abbreviations() -> None:
    text = "Submit receipts within 30 days. Meals, e.g. lunch, are capped! Is that clear? Yes."
    assert split_sentences(text) == [
        "Submit receipts within 30 days.",
        "Meals, e.g. lunch, are capped!",
        "Is that clear?",
        "Yes.",
    ]


def test_chinese_sentences_split_without_spaces() -> None:
    text = "每位全职员工每年享有25天带薪年假。病假需要医生证明！可以结转吗？可以。"
    assert split_sentences(text) == [
        "每位全职员工每年享有25天带薪年假。",
        "病假需要医生证明！",
        "可以结转吗？",
        "可以。",
    ]


def test_line_breaks_end_headings_and_list_items() -> None:
    assert split_sentences("Leave policy\n- 25 days\n- Carry over 5") == [
        "Leave policy",
        "- 25 days",
        "- Carry over 5",
    ]


def test_terms_drop_stop_words_and_use_cjk_bigrams() -> None:
    assert terms("How many vacation days do I get?") == ["vacation", "days", "get"]
    assert "年假" in terms("我每年有多少天年假？")


def test_word_count_weights_cjk_characters() -> None:
    assert word_count("three little words") == 3
    assert 5 < word_count("每位全职员工每年享有带薪年假") < 10
    assert is_mostly_cjk("每位全职员工 VPN")
    assert not is_mostly_cjk("VPN settings 设置")
