"""Tests for the inclusive vacancy-text check (procedures.textcheck, idflow text-check)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from idflow.textcheck_cli import text_check
from procedures.textcheck import WORDLIST_VERSION, TextCheckResult, check_text
from procedures.textcheck.gender import verdict_for
from procedures.textcheck.normalise import fold, normalise
from procedures.textcheck.patterns import compile_pattern
from procedures.textcheck.readability import count_syllables, measure_readability
from procedures.textcheck.wordlists import (
    exclusionary_list,
    gender_coded_list,
    readability_bands,
)

# --------------------------------------------------------------------------------------
# Realistic vacancy texts (fictional municipality, scale 12 and up)
# --------------------------------------------------------------------------------------

TEAMLEIDER_WIJKTEAM = """Teamleider (m) Wijkteam Noord

Schaal 12 | 36 uur per week | Stadsdeel Noord

Wat ga je doen?
Als teamleider geef je leiding aan een jong en dynamisch team van twintig wijkcoaches. \
Samen met je team zorg je ervoor dat inwoners snel de juiste hulp krijgen. Je bent \
verantwoordelijk voor de dagelijkse aansturing, de planning en de kwaliteit van het werk. \
Je werkt nauw samen met het jongerenwerk, de huisartsen en de woningcorporaties in de wijk.

Wie zoeken wij?
Wij zoeken een daadkrachtige en stressbestendige leider. Hij heeft ervaring met het \
aansturen van professionals en weet hoe hij een team door een veranderproces leidt. De \
ideale kandidaat is pas afgestudeerd of heeft maximaal 5 jaar werkervaring als \
leidinggevende. Hij spreekt Nederlands als moedertaal en schrijft foutloos.

Verder vragen wij:
- een afgeronde hbo-opleiding, bij voorkeur in de richting Social Work;
- ervaring met resultaatgericht werken en het sturen op doelen;
- een competitieve houding en de wil om te winnen;
- kennis van de Wmo en de Jeugdwet.

Wat bieden wij?
Een uitdagende functie in een organisatie die volop in beweging is. Het salaris is \
maximaal € 6.110 bruto per maand (schaal 12). Je krijgt een individueel keuzebudget van \
17,05% en ruime mogelijkheden voor opleiding.

Interesse?
Solliciteer voor 1 maart. Heb je vragen? Bel dan met Karin de Vries, manager Sociaal Domein.
"""

SENIOR_BELEIDSADVISEUR_WONEN = """Senior beleidsadviseur Wonen

Schaal 12 | 32 tot 36 uur | Directie Wonen

Over de functie
Dit is een seniorfunctie binnen het team Woonbeleid. Als senior beleidsadviseur werk je \
aan de nieuwe woonvisie van de stad. Je schrijft voorstellen over betaalbare huur, over de \
bouw van starterswoningen en over wonen met zorg. Je adviseert de wethouder en je bereidt \
besluiten van het college voor. Je werkt daarbij samen met corporaties, huurders en het \
jongerenwerk in de wijken.

Wat vragen wij?
- een afgeronde wo-opleiding, bijvoorbeeld in planologie, bestuurskunde of economie;
- minimaal 5 jaar ervaring met volkshuisvesting of ruimtelijk beleid;
- kennis van de positie van starters op de woningmarkt;
- je schrijft helder en begrijpelijk, ook voor inwoners;
- je beheerst het Nederlands uitstekend in woord en geschrift (C1).

Wie ben jij?
Je bent een betrokken collega die goed luistert. Je bent eerlijk over wat wel en niet \
kan. Je brengt partijen bij elkaar en je zoekt naar draagvlak. Je hebt gevoel voor \
verhoudingen in het stadhuis.

Wat bieden wij?
Een salaris van maximaal € 6.110 bruto per maand bij 36 uur. Je krijgt een individueel \
keuzebudget van 17,05 procent. Je kunt thuiswerken en je krijgt een vergoeding voor je \
reiskosten. Wij vinden een diverse organisatie belangrijk. Iedereen is welkom, ongeacht \
leeftijd, afkomst, gender of beperking.

Meer weten?
Neem contact op met Samira El Amrani, manager Wonen. Zij vertelt je graag meer over het \
team en de functie.
"""

ICT_ARCHITECT = """Enterprise architect ICT

Schaal 13 | 36 uur | Directie Informatievoorziening

Wat ga je doen?
Als enterprise architect ontwerp je de informatiearchitectuur van onze gemeente. Je \
vertaalt ambitieuze doelen van het bestuur naar een samenhangend landschap van systemen \
en koppelingen. Je bent de leider van de architectuurraad en je neemt de leiding bij \
complexe vraagstukken over cloud, data en informatiebeveiliging. Je bent analytisch sterk, \
je werkt onafhankelijk en je houdt van een uitdaging.

Wat vragen wij?
- een afgeronde wo-opleiding in informatica of bedrijfskunde;
- minimaal 8 jaar ervaring als architect in een complexe organisatie;
- kennis van TOGAF, ArchiMate en de Gemeentelijke Model Architectuur (GEMMA);
- je bent een native speaker Engels, want je werkt met internationale leveranciers;
- je spreekt accentloos Nederlands;
- je beheerst zowel Nederlands als Engels op moedertaalniveau.

Wie ben jij?
Je bent zelfverzekerd en assertief. Je durft stevig stelling te nemen in overleg met \
directeuren. Je bent besluitvaardig en je zet door als het tegenzit. Wij zoeken een \
digital native die nieuwe technologie snel omarmt.

Wat bieden wij?
Een salaris tot € 7.165 bruto per maand (schaal 13). Je krijgt een individueel \
keuzebudget van 17,05 procent, een laptop en een telefoon. Je werkt in een hybride team \
van twaalf architecten, in het stadhuis en thuis.

Solliciteren?
Stuur je motivatie en cv voor 15 maart. De procedure bestaat uit twee gesprekken en een \
assessment.
"""

STADSDEELMANAGER_ZUID = """Stadsdeelmanager Zuid (m/v/x)

Schaal 14 | 36 uur | Stadsdeel Zuid

Over de baan
Je bent de baas van het stadsdeelkantoor Zuid. Je hebt drie teams met samen zestig \
mensen. Je zorgt dat het werk goed loopt. Je praat veel met inwoners, ondernemers en het \
jongerenwerk. Je helpt het bestuur met goede plannen voor de wijk.

Wat doe je?
- Je maakt samen met de teams een plan voor elk jaar.
- Je let op geld, mensen en tijd.
- Je lost problemen op met partners in de wijk.
- Je vertelt het bestuur wat er in de wijk speelt.

Wat vragen we?
- Je hebt een diploma van hbo of wo.
- Je hebt minimaal 5 jaar ervaring als manager.
- Je kunt goed luisteren en je legt dingen duidelijk uit.
- Je spreekt en schrijft goed Nederlands.
- Je werkt zelfstandig. Je bent eerlijk en open.

Wat bieden we?
Je krijgt een goed salaris in schaal 14. Je krijgt ook een budget voor je groei. Je kunt \
soms thuis werken. Je krijgt een vergoeding voor de reis.

Wie zijn we?
We zijn een stad voor iedereen. Jong en oud wonen hier samen. We willen dat ons team net \
zo divers is als de stad. Iedereen is welkom, wat je leeftijd, afkomst of gender ook is.

Vragen?
Bel met Peter Jansen, directeur Stadsdelen. Hij vertelt je graag meer over de baan.
"""

BELEIDSADVISEUR_OPENBARE_RUIMTE = """Beleidsadviseur Openbare Ruimte

Schaal 12 | 36 uur | Stadsbeheer

Wij zoeken een ervaren beleidsman die onze afdeling Openbare Ruimte komt versterken. Je \
komt te werken in een jong team van acht adviseurs, dat nauw samenwerkt met de vakmannen \
van de buitendienst. Samen zorgen jullie voor schone, hele en veilige straten, parken en \
pleinen.

Wat ga je doen?
Je schrijft beleid voor het beheer van groen, bomen en speelplekken. Je vertaalt wensen \
van bewoners naar heldere voorstellen voor het college. Je ondersteunt de projectleiders \
bij de aanbesteding van onderhoudscontracten. Je bent het aanspreekpunt voor het \
jongerenwerk als het gaat om sportveldjes en hangplekken.

Wie zoeken wij?
Wij zoeken een senior kandidaat met een afgeronde hbo- of wo-opleiding. De kandidaat \
brengt zijn kennis van het omgevingsrecht mee en zet zijn netwerk in de regio in. \
Starters worden niet uitgenodigd. Je bent empathisch, loyaal en betrokken, en je bent een \
echte teamspeler die verbindt.

Wat bieden wij?
Een salaris van maximaal € 6.110 bruto per maand. Een individueel keuzebudget van 17,05 \
procent. Flexibele werktijden en de mogelijkheid om thuis te werken. Je werkt in een \
seniorfunctie met veel ruimte voor eigen initiatief.

Reageren?
Heren die interesse hebben, kunnen solliciteren tot en met 20 maart via onze website.
"""


def _found(text: str) -> list[tuple[str, str]]:
    return [(f.category, f.phrase) for f in check_text(text).findings]


def _word_count(text: str) -> int:
    return len(re.findall(r"\w+", text))


# --------------------------------------------------------------------------------------
# Full vacancy texts
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        TEAMLEIDER_WIJKTEAM,
        SENIOR_BELEIDSADVISEUR_WONEN,
        ICT_ARCHITECT,
        STADSDEELMANAGER_ZUID,
        BELEIDSADVISEUR_OPENBARE_RUIMTE,
    ],
)
def test_every_sample_vacancy_text_is_a_full_text_of_150_to_400_words(text: str) -> None:
    assert 150 <= _word_count(text) <= 400


def test_teamleider_text_flags_age_origin_and_gender_phrases_in_text_order() -> None:
    assert _found(TEAMLEIDER_WIJKTEAM) == [
        ("gender", "Teamleider (m)"),
        ("leeftijd", "jong en dynamisch team"),
        ("gender", "Hij"),
        ("gender", "hij"),
        ("leeftijd", "pas afgestudeerd"),
        ("leeftijd", "maximaal 5 jaar werkervaring"),
        ("gender", "Hij"),
        ("herkomst_taal", "Nederlands als moedertaal"),
    ]


def test_teamleider_text_is_strongly_masculine_coded() -> None:
    coded = check_text(TEAMLEIDER_WIJKTEAM).gender_coded
    assert coded.masculine_words == (
        "daadkrachtige",
        "stressbestendige",
        "leider",
        "resultaatgericht",
        "competitieve",
        "winnen",
        "uitdagende",
        "individueel",
    )
    assert coded.feminine_words == ()
    assert (coded.masculine_count, coded.feminine_count) == (8, 0)
    assert coded.verdict == "sterk mannelijk gecodeerd"


def test_salary_maximum_and_department_names_are_not_mistaken_for_problems() -> None:
    result = check_text(TEAMLEIDER_WIJKTEAM)
    phrases = " ".join(f.phrase for f in result.findings)
    assert "6.110" not in phrases
    # "Sociaal Domein" (a department) and "Social Work" (a degree) are not "sociaal".
    assert result.gender_coded.feminine_count == 0


def test_clean_senior_policy_adviser_text_has_no_findings_despite_the_traps() -> None:
    result = check_text(SENIOR_BELEIDSADVISEUR_WONEN)
    for trap in ("seniorfunctie", "senior beleidsadviseur", "starterswoningen", "jongerenwerk"):
        assert trap in SENIOR_BELEIDSADVISEUR_WONEN.lower()
    assert result.findings == ()
    assert not result.has_exclusionary


def test_clean_senior_policy_adviser_text_is_lightly_feminine_coded() -> None:
    coded = check_text(SENIOR_BELEIDSADVISEUR_WONEN).gender_coded
    assert coded.feminine_words == ("betrokken", "eerlijk")
    assert coded.masculine_words == ("individueel",)
    assert coded.verdict == "licht vrouwelijk gecodeerd"


def test_ict_architect_text_flags_language_demands_and_digital_native() -> None:
    assert _found(ICT_ARCHITECT) == [
        ("herkomst_taal", "native speaker"),
        ("herkomst_taal", "accentloos"),
        ("herkomst_taal", "Nederlands als Engels op moedertaalniveau"),
        ("leeftijd", "digital native"),
    ]


def test_ict_architect_text_is_harder_to_read_than_b1() -> None:
    reading = check_text(ICT_ARCHITECT).readability
    assert reading.level == "tamelijk moeilijk"
    assert reading.b1_or_easier is False
    assert reading.indication.startswith("Moeilijker dan taalniveau B1 (Flesch-Douma 50,3")


def test_ict_architect_text_is_strongly_masculine_coded_with_phrases_counted_once() -> None:
    coded = check_text(ICT_ARCHITECT).gender_coded
    assert coded.masculine_words == (
        "ambitieuze",
        "leider",
        "neemt de leiding",
        "analytisch",
        "onafhankelijk",
        "uitdaging",
        "zelfverzekerd",
        "assertief",
        "besluitvaardig",
        "individueel",
    )
    assert coded.feminine_count == 0
    assert coded.verdict == "sterk mannelijk gecodeerd"


def test_district_manager_text_is_clean_neutral_and_at_b1_level() -> None:
    result = check_text(STADSDEELMANAGER_ZUID)
    # "(m/v/x)" is fine, "Jong en oud" is not about the team, and the only "Hij"
    # refers to the contact person, which the checker cannot tell apart ...
    assert _found(STADSDEELMANAGER_ZUID) == [("gender", "Hij")]
    assert result.gender_coded.masculine_words == ("zelfstandig",)
    assert result.gender_coded.feminine_words == ("eerlijk",)
    assert result.gender_coded.verdict == "neutraal"
    assert result.readability.b1_or_easier
    assert result.readability.score is not None and result.readability.score >= 60


def test_district_manager_text_without_pronoun_for_contact_person_passes() -> None:
    # ... and rewriting that sentence as the suggestion advises removes the finding.
    rewritten = STADSDEELMANAGER_ZUID.replace("Hij vertelt", "Peter vertelt")
    assert check_text(rewritten).findings == ()


def test_public_space_adviser_text_flags_male_titles_pronouns_and_age() -> None:
    assert _found(BELEIDSADVISEUR_OPENBARE_RUIMTE) == [
        ("gender", "beleidsman"),
        ("leeftijd", "jong team"),
        ("gender", "vakmannen"),
        ("leeftijd", "senior kandidaat"),
        ("gender", "zijn kennis"),
        ("gender", "zijn netwerk"),
        ("leeftijd", "Starters"),
        ("gender", "Heren"),
    ]


def test_public_space_adviser_text_is_strongly_feminine_coded() -> None:
    coded = check_text(BELEIDSADVISEUR_OPENBARE_RUIMTE).gender_coded
    assert coded.feminine_words == (
        "samenwerkt",
        "ondersteunt",
        "empathisch",
        "loyaal",
        "betrokken",
        "teamspeler",
        "verbindt",
    )
    assert coded.masculine_words == ("individueel",)
    assert coded.verdict == "sterk vrouwelijk gecodeerd"


def test_finding_offsets_point_at_the_phrase_in_the_original_text() -> None:
    for text in (TEAMLEIDER_WIJKTEAM, ICT_ARCHITECT, BELEIDSADVISEUR_OPENBARE_RUIMTE):
        for finding in check_text(text).findings:
            assert text[finding.start : finding.end] == finding.phrase
            assert finding.suggestion and finding.source


# --------------------------------------------------------------------------------------
# False-positive traps and exception lists
# --------------------------------------------------------------------------------------


def test_senior_candidate_is_flagged_but_senior_job_title_is_not() -> None:
    assert _found("Wij zoeken een senior kandidaat.") == [("leeftijd", "senior kandidaat")]
    assert _found("Wij zoeken senior kandidaten.") == [("leeftijd", "senior kandidaten")]
    assert _found("Wij zoeken een senior beleidsadviseur voor deze seniorfunctie.") == []


def test_young_team_is_flagged_but_youth_work_is_not() -> None:
    assert _found("Je komt in een jong team.") == [("leeftijd", "jong team")]
    assert _found("Je werkt in het jongerenwerk en met het team Jeugd.") == []


def test_young_and_old_is_an_exception_for_young_team() -> None:
    assert _found("Wij werken voor jong en oud, het team is divers.") == []
    assert _found("Ons jonge, hechte team zoekt versterking.") == [
        ("leeftijd", "jonge, hechte team")
    ]


def test_starter_is_flagged_but_starter_homes_and_housing_market_starters_are_not() -> None:
    assert _found("Deze baan is ideaal voor een starter.") == [("leeftijd", "starter")]
    assert _found("Je werkt aan beleid voor starterswoningen en de starterslening.") == []
    assert _found("Je kent de positie van starters op de woningmarkt.") == []
    assert _found("Je bouwt starters-woningen.") == []


def test_maximum_experience_is_flagged_but_minimum_experience_is_not() -> None:
    assert _found("Je hebt niet meer dan 3 jaar ervaring.") == [
        ("leeftijd", "niet meer dan 3 jaar ervaring")
    ]
    assert _found("Je hebt maximaal vijf jaar relevante werkervaring.") == [
        ("leeftijd", "maximaal vijf jaar relevante werkervaring")
    ]
    assert _found("Je hebt minimaal 5 jaar ervaring.") == []


def test_age_range_is_flagged_but_an_experience_range_is_not() -> None:
    assert _found("Je bent tussen de 25 en 35 jaar oud.") == [
        ("leeftijd", "tussen de 25 en 35 jaar")
    ]
    assert _found("Je hebt tussen de 2 en 5 jaar ervaring.") == []


def test_male_only_title_is_flagged_but_gender_inclusive_title_is_not() -> None:
    assert _found("Medewerker (m) Burgerzaken") == [("gender", "Medewerker (m)")]
    assert _found("Medewerker (m/v) Burgerzaken") == []
    assert _found("Medewerker Burgerzaken (m/v/x)") == []


def test_he_referring_to_the_candidate_is_flagged_but_he_or_she_is_not() -> None:
    assert _found("De kandidaat is flexibel en hij heeft een rijbewijs.") == [("gender", "hij")]
    assert _found("De kandidaat weet wat hij/zij wil en hij of zij is flexibel.") == []


def test_his_about_the_candidate_is_flagged_but_the_verb_zijn_is_not() -> None:
    assert _found("De kandidaat zet zijn ervaring in.") == [("gender", "zijn ervaring")]
    assert _found("Wij zijn team Jeugd en er zijn taken genoeg.") == []


def test_gentlemen_is_flagged_but_ladies_and_gentlemen_is_not() -> None:
    assert _found("Heren met interesse kunnen reageren.") == [("gender", "Heren")]
    assert _found("Dames en heren, welkom bij de gemeente.") == []


def test_dutch_as_mother_tongue_and_dutch_background_are_flagged() -> None:
    assert _found("Moedertaal Nederlands is een must. Je hebt een Nederlandse achtergrond.") == [
        ("herkomst_taal", "Moedertaal Nederlands"),
        ("herkomst_taal", "Nederlandse achtergrond"),
    ]
    assert _found("Je spreekt perfect Nederlands zonder accent.") == [
        ("herkomst_taal", "perfect Nederlands zonder accent")
    ]
    assert _found("Je beheerst het Nederlands op C1-niveau.") == []


def test_coded_word_exceptions_keep_departments_and_confidentiality_out_of_the_count() -> None:
    coded = check_text(
        "Je werkt bij Sociaal Domein en gaat vertrouwelijk om met gegevens. "
        "Je bent sociaal en je hebt vertrouwen in collega's."
    ).gender_coded
    assert coded.feminine_words == ("sociaal", "vertrouwen")
    assert coded.masculine_count == 0


# --------------------------------------------------------------------------------------
# Normalisation: diacritics, hyphenation, inflection
# --------------------------------------------------------------------------------------


def test_diacritics_match_in_both_directions() -> None:
    assert fold("Creëren") == fold("creeren") == "creeren"
    assert compile_pattern("creëren").search(fold("Wij creeren ruimte"))
    assert compile_pattern("creeren").search(fold("Wij creëren ruimte"))
    with_trema = check_text("Je bent coöperatief en denkt niet hiërarchisch.").gender_coded
    without = check_text("Je bent cooperatief en denkt niet hierarchisch.").gender_coded
    assert with_trema.feminine_words == ("coöperatief",)
    assert with_trema.masculine_words == ("hiërarchisch",)
    assert without.feminine_words == ("cooperatief",)
    assert without.masculine_words == ("hierarchisch",)


def test_positions_refer_to_the_original_text_when_folding_changes_length() -> None:
    # "ĳ" (one ligature character) folds to the two characters "ij"; the soft hyphen
    # in "moeder\u00adtaal" folds to nothing. Offsets must still fit the original.
    text = "Wĳ vragen Nederlands als moeder\u00adtaal."
    assert len(normalise(text).text) == len(text)  # +1 for "ij", -1 for the soft hyphen
    [finding] = check_text(text).findings
    assert (finding.start, finding.end) == (10, 36)
    assert text[finding.start : finding.end] == "Nederlands als moeder\u00adtaal"
    assert finding.phrase == text[10:36]


def test_hyphenated_phrases_and_line_break_hyphens_are_matched() -> None:
    assert _found("Wij zijn een jong-en-dynamisch bedrijf.") == [("leeftijd", "jong-en-dynamisch")]
    assert _found("Je bent pas afge-\nstudeerd.") == [("leeftijd", "pas afge-\nstudeerd")]
    coded = check_text("Je kunt goed sa-\nmenwerken en sa-menwerken.").gender_coded
    assert coded.feminine_words == ("samenwerken", "sa-menwerken")


def test_inflected_forms_count_through_their_stems() -> None:
    coded = check_text(
        "Een ambitieuze collega die graag samenwerkt en uitdagingen zoekt. "
        "Je bent stressbestendig en empathische collega's waarderen je."
    ).gender_coded
    assert coded.masculine_words == ("ambitieuze", "uitdagingen", "stressbestendig")
    assert coded.feminine_words == ("samenwerkt", "empathische")
    assert coded.verdict == "licht mannelijk gecodeerd"


def test_case_does_not_matter_for_matching() -> None:
    assert _found("WIJ ZOEKEN EEN NATIVE SPEAKER.") == [("herkomst_taal", "NATIVE SPEAKER")]


# --------------------------------------------------------------------------------------
# Gender verdict rule
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("masculine", "feminine", "verdict"),
    [
        (0, 0, "neutraal"),
        (3, 3, "neutraal"),
        (1, 0, "licht mannelijk gecodeerd"),
        (3, 0, "licht mannelijk gecodeerd"),
        (4, 0, "sterk mannelijk gecodeerd"),
        (8, 4, "sterk mannelijk gecodeerd"),  # diff 4, share 2/3
        (10, 6, "licht mannelijk gecodeerd"),  # diff 4 but share 0.625 < 2/3
        (2, 5, "licht vrouwelijk gecodeerd"),
        (0, 5, "sterk vrouwelijk gecodeerd"),
    ],
)
def test_gender_verdict_follows_difference_and_share_rule(
    masculine: int, feminine: int, verdict: str
) -> None:
    assert verdict_for(masculine, feminine) == verdict


# --------------------------------------------------------------------------------------
# Readability (Flesch-Douma, B1)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "syllables"),
    [
        ("creëren", 3),  # cre-ë-ren: the diaeresis splits "eë"
        ("geïnteresseerd", 5),  # ge-ïn-te-res-seerd
        ("coördinator", 5),  # co-ör-di-na-tor
        ("beleidsadviseur", 5),  # be-leids-ad-vi-seur: "ei" and "eu" count once
        ("bijeenkomst", 3),  # bij-een-kom-st: "ij" and "ee" count once
        ("ruimte", 2),  # ruim-te: "ui" counts once
        ("nieuw", 1),  # "ieu" counts once
        ("HR", 1),  # no vowel: at least one syllable
    ],
)
def test_dutch_syllable_counter_handles_diphthongs_and_diaeresis(word: str, syllables: int) -> None:
    assert count_syllables(word) == syllables


def test_flesch_douma_score_matches_a_hand_calculation() -> None:
    # Hand count:
    #   "Wij zoeken een collega."          4 words, 1+2+1+3 = 7 syllables
    #   "Je werkt graag samen met anderen." 6 words, 1+1+1+2+1+3 = 9 syllables
    #   "Wij creëren samen een leesbare tekst." 6 words, 1+3+2+1+3+1 = 11 syllables
    #   total: 16 words, 3 sentences, 27 syllables
    #   206.835 - 0.93 * 16/3 - 77 * 27/16 = 206.835 - 4.96 - 129.9375 = 71.9375
    reading = measure_readability(
        "Wij zoeken een collega. Je werkt graag samen met anderen. "
        "Wij creëren samen een leesbare tekst."
    )
    assert (reading.words, reading.sentences, reading.syllables) == (16, 3, 27)
    assert reading.score == pytest.approx(71.9375, abs=0.005)
    assert reading.level == "tamelijk makkelijk"
    assert reading.b1_or_easier is True


def test_officialese_scores_very_difficult_and_above_b1() -> None:
    # Hand count: De(1) ge-meen-te-lij-ke(5) in-for-ma-tie-voor-zie-ning(7) ve-reist(2)
    # or-ga-ni-sa-tie-bre-de(7) stan-daar-di-sa-tie(5) = 6 words, 1 sentence, 27 syllables
    # 206.835 - 0.93 * 6 - 77 * 27/6 = 206.835 - 5.58 - 346.5 = -145.245
    reading = measure_readability(
        "De gemeentelijke informatievoorziening vereist organisatiebrede standaardisatie."
    )
    assert (reading.words, reading.sentences, reading.syllables) == (6, 1, 27)
    assert reading.score == pytest.approx(-145.245, abs=0.005)
    assert reading.level == "zeer moeilijk"
    assert reading.b1_or_easier is False
    assert "Moeilijker dan taalniveau B1" in reading.indication


def test_bullet_lines_count_as_sentences_and_abbreviations_do_not_split() -> None:
    reading = measure_readability("Wat vragen wij?\n- een hbo-diploma\n- kennis van o.a. de Wmo")
    assert reading.sentences == 3
    # Wat vragen wij | een hbo-diploma | kennis van o a de Wmo ("o.a." counts as two words)
    assert reading.words == 11


def test_empty_text_has_no_readability_score() -> None:
    reading = check_text("   \n").readability
    assert reading.score is None
    assert reading.b1_or_easier is False
    assert reading.level == "onbekend"


def test_readability_bands_are_ordered_and_b1_threshold_is_documented() -> None:
    bands = readability_bands()
    minimums = [band.min_score for band in bands.bands]
    assert minimums == [90, 80, 70, 60, 45, 30, None]
    assert bands.b1.min_score == 60
    assert "Douma" in bands.bands[0].source and "B1" in bands.b1.source


# --------------------------------------------------------------------------------------
# Word lists as versioned data
# --------------------------------------------------------------------------------------


def test_every_word_list_entry_names_its_source_and_lists_are_versioned() -> None:
    excl = exclusionary_list()
    coded = gender_coded_list()
    assert re.fullmatch(r"\d{4}\.\d+", excl.version)
    assert re.fullmatch(r"\d{4}\.\d+", coded.version)
    sources = [e.source for e in excl.entries]
    sources += [e.source for e in coded.masculine + coded.feminine]
    assert all(len(source) > 10 and "http" not in source for source in sources)
    assert any("College voor de Rechten van de Mens" in s for s in sources)
    assert any("Gaucher, Friesen & Kay (2011)" in s for s in sources)
    assert {e.category for e in excl.entries} == {"leeftijd", "herkomst_taal", "gender"}
    expected_version = (
        f"exclusionary={excl.version};gender_coded={coded.version};"
        f"readability={readability_bands().version}"
    )
    assert expected_version == WORDLIST_VERSION


def test_result_to_dict_is_json_serialisable_deterministic_and_complete() -> None:
    first = check_text(BELEIDSADVISEUR_OPENBARE_RUIMTE)
    data = first.to_dict()
    encoded = json.dumps(data, sort_keys=True)
    assert encoded == json.dumps(
        check_text(BELEIDSADVISEUR_OPENBARE_RUIMTE).to_dict(), sort_keys=True
    )
    assert data["has_exclusionary"] is True
    assert data["wordlist_version"] == WORDLIST_VERSION
    assert data["findings"][0] == {
        "category": "gender",
        "phrase": "beleidsman",
        "start": first.findings[0].start,
        "end": first.findings[0].end,
        "suggestion": "Gebruik 'beleidsmedewerker' of 'beleidsadviseur'.",
        "source": first.findings[0].source,
        "rule": "gender.beleidsman",
    }
    assert set(data["gender_coded"]) == {
        "masculine_count",
        "feminine_count",
        "masculine_words",
        "feminine_words",
        "verdict",
    }
    assert set(data["readability"]) >= {"score", "level", "b1_or_easier", "words"}
    assert (
        TextCheckResult.model_validate({k: v for k, v in data.items() if k != "has_exclusionary"})
        == first
    )


# --------------------------------------------------------------------------------------
# CLI (through a throwaway Typer app)
# --------------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Throwaway root so that "text-check" is a real subcommand."""

    app.command("text-check")(text_check)
    return app


RUNNER = CliRunner()
WIDE = {"COLUMNS": "200"}


def test_cli_exits_0_and_reports_in_dutch_for_a_clean_text(tmp_path: Path) -> None:
    vacancy = tmp_path / "wonen.txt"
    vacancy.write_text(SENIOR_BELEIDSADVISEUR_WONEN, encoding="utf-8")
    result = RUNNER.invoke(_app(), ["text-check", str(vacancy)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Geen uitsluitende formuleringen gevonden." in result.stdout
    assert "Op of onder taalniveau B1" in result.stdout
    assert "oordeel: licht vrouwelijk gecodeerd" in result.stdout
    assert "Leesbaarheid: Flesch-Douma" in result.stdout


def test_cli_exits_1_and_shows_a_findings_table_for_a_problem_text(tmp_path: Path) -> None:
    vacancy = tmp_path / "openbare_ruimte.txt"
    vacancy.write_text(BELEIDSADVISEUR_OPENBARE_RUIMTE, encoding="utf-8")
    result = RUNNER.invoke(_app(), ["text-check", str(vacancy)], env=WIDE)
    assert result.exit_code == 1
    assert "Uitsluitende formuleringen" in result.stdout
    assert "senior kandidaat" in result.stdout
    assert "Leeftijd" in result.stdout and "Gender" in result.stdout
    assert "8 uitsluitende formulering(en) gevonden" in result.stdout
    assert "oordeel: sterk vrouwelijk gecodeerd" in result.stdout


def test_cli_reads_standard_input_when_file_is_a_dash() -> None:
    result = RUNNER.invoke(
        _app(), ["text-check", "-"], input="Wij zoeken een digital native.\n", env=WIDE
    )
    assert result.exit_code == 1
    assert "digital native" in result.stdout


def test_cli_json_output_parses_and_equals_to_dict(tmp_path: Path) -> None:
    vacancy = tmp_path / "ict.txt"
    vacancy.write_text(ICT_ARCHITECT, encoding="utf-8")
    result = RUNNER.invoke(_app(), ["text-check", str(vacancy), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == check_text(ICT_ARCHITECT).to_dict()


def test_cli_json_output_for_a_clean_text_exits_0(tmp_path: Path) -> None:
    vacancy = tmp_path / "wonen.txt"
    vacancy.write_text(SENIOR_BELEIDSADVISEUR_WONEN, encoding="utf-8")
    result = RUNNER.invoke(_app(), ["text-check", str(vacancy), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["has_exclusionary"] is False


def test_cli_missing_file_gives_dutch_error_on_stderr_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "bestaat_niet.txt"
    result = RUNNER.invoke(_app(), ["text-check", str(missing)])
    assert result.exit_code == 2
    assert "bestaat niet" in result.stderr
    assert result.stdout == ""
