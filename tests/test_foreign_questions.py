"""English and Korean questions on the seed document (威政办字〔2026〕10号), as foreign-invested and
Korean firms in Weihai would ask them.

Expected measures are read off the Chinese text. The answer opens with a line in the question's
language (template words); measure titles, departments and quotes stay Chinese.
"""

from __future__ import annotations

import re

import pytest

# (question, the measure that should be cited first)
IN_SCOPE = [
    ("en", "Our shipyard is developing methanol-fuelled vessels. Does Weihai support new-energy ship types?", 4),
    ("en", "Is the city building incubators for future industries such as nuclear medicine or the metaverse?", 6),
    ("en", "Does the plan say anything about protecting industrial heritage and developing industrial tourism?", 7),
    ("en", "How many high-quality industry datasets will be built under the \"Data Elements x\" initiative?", 10),
    ("en", "What share of the city's chemical industry revenue should come from high-end chemicals?", 18),
    ("en", "Is there a regular channel, like an entrepreneurs' day, for companies to raise problems with the government?", 20),
    ("ko", "탄소섬유 같은 신소재의 응용 분야를 넓히는 계획이 있나요?", 5),
    ("ko", "공업 데이터 집적과 공업 모델 개발 등 '인공지능+제조' 추진 계획을 알려주세요.", 8),
    ("ko", "규모 이상 공업기업의 디지털 전환 보급률 목표는 몇 퍼센트인가요?", 9),
    ("ko", "홍콩 품질 '正' 인증 홍보와 홍콩 전시판매 행사 참가를 지원하나요?", 12),
    ("ko", "해외 창업 인재와 고급 산업 인재를 유치하는 정책이 있나요?", 15),
    ("ko", "소기업을 규모 이상 기업으로 키우는 '소승규' 기업 예비 명단 제도가 있나요?", 19),
    # requests and their completion rate (glossary.json: 诉求, 办结率)
    ("en", "What is the target completion rate for companies' requests?", 20),
    ("ko", "기업 요청 처리율 목표는 얼마인가요?", 20),
]

OUT_OF_SCOPE = [
    ("en", "What is the minimum monthly wage in Weihai in 2026?"),
    ("en", "Is there a rent subsidy for foreigners renting an apartment in Weihai?"),
    ("en", "What are the opening hours of the tax service hall in Weihai?"),
    ("ko", "위해 공항에서 서울로 가는 항공편은 하루에 몇 편 있나요?"),
    ("ko", "외국인이 위해에서 건강보험에 가입하려면 어떻게 해야 하나요?"),
    ("ko", "위해시의 올해 최저임금은 얼마인가요?"),
]

HANGUL = re.compile(r"[\uac00-\ud7a3]")
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{2,}\b")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def answers(assistant):
    """One answer per question, asked once for every test of this module."""
    cache: dict[str, object] = {}

    def ask(question: str):
        if question not in cache:
            cache[question] = assistant.ask(question)
        return cache[question]

    return ask


def lead_line(answer: str) -> str:
    return next((line for line in answer.splitlines() if line.strip()), "")


def assert_lead_line_in(language: str, answer: str):
    line = lead_line(answer)
    if language == "en":
        assert len(ENGLISH_WORD.findall(line)) >= 2 and not HANGUL.search(line), f"not an English lead line: {line!r}"
    else:
        assert len(HANGUL.findall(line)) >= 2, f"not a Korean lead line: {line!r}"


def test_first_citation_of_english_and_korean_questions(answers):
    right, wrong = 0, []
    for _language, question, number in IN_SCOPE:
        response = answers(question)
        first = response.citations[0].measure_number if response.citations else None
        if response.found and first == number:
            right += 1
        else:
            wrong.append((question, number, first, response.answer[:120]))
    assert right >= 10, f"{right}/{len(IN_SCOPE)} right; wrong: {wrong}"


@pytest.mark.parametrize("language,question,number", IN_SCOPE, ids=[q[1][:40] for q in IN_SCOPE])
def test_answer_leads_in_the_question_language_and_keeps_the_chinese(answers, language, question, number):
    response = answers(question)
    assert response.found is True and response.citations, response.answer[:200]
    assert_lead_line_in(language, response.answer)
    first = response.citations[0]
    # titles, departments and quotes are the document's own words, not translations
    assert CJK.search(first.measure_title) and CJK.search(first.quote)
    assert all(CJK.search(d) for d in first.departments)
    assert first.measure_title in response.answer, response.answer[:300]


# what no measure states (a director, an address, a rate) and a past year's figure, which the 2026 plan does not
# hold (as 局长是谁？ and 2025年规上工业增加值是多少？ in Chinese): refused like the questions out of scope
UNSTATED = [
    ("en", "Who is the director of the Bureau of Industry and Information Technology?"),
    ("ko", "공업정보화국 국장은 누구입니까?"),
    ("en", "What is the interest rate of first-time loans?"),
    ("en", "Where is the Finance Bureau located?"),
    ("en", "What was Weihai's industrial growth in 2025?"),
    ("ko", "2025년 위해시 공업 성장률은 얼마였습니까?"),
]


@pytest.mark.parametrize("language,question", OUT_OF_SCOPE + UNSTATED, ids=[q[1][:40] for q in OUT_OF_SCOPE + UNSTATED])
def test_out_of_scope_english_and_korean_questions_are_refused(answers, language, question):
    response = answers(question)
    assert response.found is False, f"answered: {[c.measure_number for c in response.citations]} {response.answer[:200]!r}"
    assert response.citations == []
    assert_lead_line_in(language, response.answer)


# a part, a figure asked back and a unit's measures, asked in English or Korean: the same lookups as in Chinese,
# under the template's lead line
LOOKUPS = [
    ("en", "What does part 3 contain?", {8, 9, 10}),
    ("en", "Which measures are in the fifth part?", {16, 17, 18}),
    ("ko", "제3부분에는 어떤 조치가 있습니까?", {8, 9, 10}),
    ("en", "What does 98% refer to?", {9}),
    ("ko", "98%는 무엇을 의미합니까?", {9}),
    ("en", "Which measures is the Justice Bureau responsible for?", {21, None}),  # None: 保障措施 (no number)
    ("ko", "사법국은 어떤 조치를 담당합니까?", {21, None}),
    ("en", "Which measures is the Finance Bureau responsible for?", {7, 14, 19}),
]


@pytest.mark.parametrize("language,question,numbers", LOOKUPS, ids=[q[1][:40] for q in LOOKUPS])
def test_lookups_asked_in_english_or_korean(answers, language, question, numbers):
    response = answers(question)
    assert response.found is True, response.answer[:200]
    assert {c.measure_number for c in response.citations} == numbers, [c.measure_number for c in response.citations]
    assert_lead_line_in(language, response.answer)


def test_a_part_the_document_lacks_is_refused_in_the_question_language(answers):
    response = answers("What does part 9 contain?")
    assert response.found is False and response.citations == []
    assert_lead_line_in("en", response.answer)


@pytest.mark.parametrize("language,question,number", [
    ("en", "What is the second measure in part 5?", 17),
    ("ko", "제5부분의 두 번째 조치는 무엇입니까?", 17),
    ("en", "What is the last measure of part 2?", 7),
])
def test_a_measure_inside_a_part_asked_in_english_or_korean(answers, language, question, number):
    response = answers(question)
    assert [c.measure_number for c in response.citations] == [number], response.answer[:200]
    assert_lead_line_in(language, response.answer)


def test_a_year_asked_in_english_is_no_figure_asked_back():
    from assistant.intents import route_foreign

    assert route_foreign("What is the 2026 growth target?").kind == "search"  # 2026 is the year, not a figure
    assert route_foreign("What does 98% refer to?").topic == "98%"


def test_a_year_as_the_time_of_a_support_is_still_answered_in_english(answers):
    assert answers("Which subsidies could companies apply for in 2025?").found is True


def test_korean_sino_words_for_a_chemical_park_and_its_entry_rate():
    # 화공 is 化工 read in Korean, 입주율 the 入园率 of 第18条; only 단지 (园区) had been translated
    from assistant.language import chinese_terms

    terms = chinese_terms("입주 대상 화공기업의 화공단지 입주율 목표는 얼마인가요?", "ko").split()
    assert {"化工", "化工园区", "入园率"} <= set(terms)
