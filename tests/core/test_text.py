from __future__ import annotations

from pipelines.text.analysis import content_terms
from pipelines.text.basics import is_mostly_cjk, split_sentences, word_count


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


def test_content_terms_keep_the_topic_and_drop_question_words() -> None:
    assert content_terms("How many vacation days do I get?") == ("vacat", "day", "get")
    terms = content_terms("I'm visiting Berlin, what's the hotel limit?")
    assert terms == ("visit", "berlin", "hotel", "limit")
    # The unit counted by 多少 goes with it: no "天年" bigram to match "28天年假" but not "25天带薪年假".
    assert content_terms("我每年有多少天年假？") == ("每年", "年假")


def test_negations_and_measure_questions_are_not_topics() -> None:
    """ "doesn't" is "does" (a question word), "how long" asks for a duration: neither names a topic, and
    as terms ("doesn", "long") they made answerable questions look uncovered."""
    assert content_terms("The password doesn't work anymore. How long was it valid?") == (
        "password",
        "work",
        "valid",
    )
    assert content_terms("I can't connect and it won't retry") == ("connect", "retri")
    assert content_terms("How often are we paid?") == ("paid",)
    # Outside "how ...", the words keep their meaning: a long-term loan is a topic.
    assert content_terms("Is there a long-term loan?") == ("long", "term", "loan")


def test_word_count_weights_cjk_characters() -> None:
    assert word_count("three little words") == 3
    assert 5 < word_count("每位全职员工每年享有带薪年假") < 10
    assert is_mostly_cjk("每位全职员工 VPN")
    assert not is_mostly_cjk("VPN settings 设置")


def test_headings_are_context_never_quotable_sentences() -> None:
    from pipelines.text.basics import quotable_sentences

    chunk = (
        "2.3 Sick pay\nYou get full pay for 10 days. Then half pay.\n- Laptop and charger\n"
        "Location: London; Maximum per night: 240 EUR.\n三、年假\n每位全职员工每年享有25天带薪年假。"
    )
    assert quotable_sentences(chunk) == [
        "You get full pay for 10 days.",
        "Then half pay.",
        "- Laptop and charger",
        "Location: London; Maximum per night: 240 EUR.",
        "每位全职员工每年享有25天带薪年假。",
    ]


def test_a_sentence_carries_the_faq_question_the_list_lead_in_and_what_it_refers_back_to() -> None:
    from pipelines.text.basics import QuotableSentence, contextual_sentences

    chunk = (
        "1. Our values\nWe keep learning.\n"
        "2. Fire alarm\nThe alarm is loud. There are two alarm sounds:\n- A bell means EVACUATE.\n"
        "- A tone means STAND BY.\nThe test is on Wednesdays.\n"
        "- A list item after a paragraph has no lead-in.\n"
        "The assembly point is:\nQuay Street car park, opposite the entrance.\nBring your badge.\n"
        "Lost your phone?\nCall the service desk. It resets your second factor.\n"
        "手机丢了怎么办？\n请联系 IT 服务台。"
    )
    assert contextual_sentences(chunk) == [
        QuotableSentence("We keep learning."),  # a section title is every sentence's topic: no context
        QuotableSentence("The alarm is loud."),  # the lead-in after it is context only
        QuotableSentence("- A bell means EVACUATE.", lead_in="There are two alarm sounds:"),
        QuotableSentence("- A tone means STAND BY.", lead_in="There are two alarm sounds:"),
        QuotableSentence("The test is on Wednesdays."),
        QuotableSentence("- A list item after a paragraph has no lead-in."),
        QuotableSentence("Quay Street car park, opposite the entrance.", lead_in="The assembly point is:"),
        QuotableSentence("Bring your badge."),
        QuotableSentence("Call the service desk.", "Lost your phone?"),
        QuotableSentence("It resets your second factor.", "Lost your phone? Call the service desk."),
        QuotableSentence("请联系 IT 服务台。", "手机丢了怎么办？"),
    ]


def test_a_colon_ended_sentence_that_states_a_fact_stays_quotable() -> None:
    from pipelines.text.basics import QuotableSentence, contextual_sentences

    lead_in = "In May 2012 the board approved one more class, of these four kinds:"
    assert contextual_sentences(f"{lead_in}\n- General classes.") == [
        QuotableSentence(lead_in),
        QuotableSentence("- General classes.", lead_in=lead_in),
    ]
    chinese = "2012年5月获得同意增设普通班1班，班级分为下列四种类型："
    assert contextual_sentences(chinese) == [QuotableSentence(chinese)]
