//! The official scoring rules of the 2025 graduation-exam format (MOET decision 764), as pure
//! functions over exact points. Every point value in the format is a multiple of 0.05, so points
//! are whole hundredths: no binary floating point anywhere.
use std::fmt;

use serde::{Deserialize, Serialize};

/// A score in hundredths of a point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Points(u32);

impl Points {
    pub const ZERO: Points = Points(0);

    pub const fn hundredths(n: u32) -> Self {
        Points(n)
    }

    pub fn as_hundredths(self) -> u32 {
        self.0
    }

    /// "0,25", "0.25", "10" or "8,5": at most two decimals, never a float.
    pub fn parse(text: &str) -> Option<Points> {
        let text = text.trim().replace(',', ".");
        let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
        if whole.is_empty()
            || frac.len() > 2
            || !whole
                .chars()
                .chain(frac.chars())
                .all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let frac = format!("{frac:0<2}");
        Some(Points(
            whole
                .parse::<u32>()
                .ok()?
                .checked_mul(100)?
                .checked_add(frac.parse::<u32>().ok()?)?,
        ))
    }
}

impl std::ops::Add for Points {
    type Output = Points;
    fn add(self, other: Points) -> Points {
        Points(self.0 + other.0)
    }
}

impl std::iter::Sum for Points {
    fn sum<I: Iterator<Item = Points>>(iter: I) -> Points {
        iter.fold(Points::ZERO, |a, b| a + b)
    }
}

/// Always two decimals with a point, as score sheets print them: "8.75".
impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Serialize for Points {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Points {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Points::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a score like 8.75")))
    }
}

/// Subjects of the 2018 curriculum that the graduation exam covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Toan,
    VatLi,
    HoaHoc,
    SinhHoc,
    DiaLi,
    LichSu,
    GdktPl,
    TinHoc,
    CongNghe,
    TiengAnh,
    NguVan,
}

impl Subject {
    pub const ALL: [Subject; 11] = [
        Subject::Toan,
        Subject::VatLi,
        Subject::HoaHoc,
        Subject::SinhHoc,
        Subject::DiaLi,
        Subject::LichSu,
        Subject::GdktPl,
        Subject::TinHoc,
        Subject::CongNghe,
        Subject::TiengAnh,
        Subject::NguVan,
    ];

    /// The API code ("vat_li") or the Vietnamese name, with or without diacritics ("Vật lí").
    pub fn parse(text: &str) -> Option<Subject> {
        let folded = crate::text::fold(text).replace(['_', '-', '&'], " ");
        let folded = folded.split_whitespace().collect::<Vec<_>>().join(" ");
        Subject::ALL
            .into_iter()
            .find(|s| {
                let code = s.code().replace('_', " ");
                folded == code
                    || folded == crate::text::fold(s.name_vi())
                    || (*s == Subject::VatLi && folded == "vat ly")
            })
            .or(match folded.as_str() {
                "gdkt pl" | "gdktpl" => Some(Subject::GdktPl),
                "hoa" => Some(Subject::HoaHoc),
                "sinh" => Some(Subject::SinhHoc),
                _ => None,
            })
    }

    pub fn code(self) -> &'static str {
        match self {
            Subject::Toan => "toan",
            Subject::VatLi => "vat_li",
            Subject::HoaHoc => "hoa_hoc",
            Subject::SinhHoc => "sinh_hoc",
            Subject::DiaLi => "dia_li",
            Subject::LichSu => "lich_su",
            Subject::GdktPl => "gdkt_pl",
            Subject::TinHoc => "tin_hoc",
            Subject::CongNghe => "cong_nghe",
            Subject::TiengAnh => "tieng_anh",
            Subject::NguVan => "ngu_van",
        }
    }

    pub fn name_vi(self) -> &'static str {
        match self {
            Subject::Toan => "Toán",
            Subject::VatLi => "Vật lí",
            Subject::HoaHoc => "Hóa học",
            Subject::SinhHoc => "Sinh học",
            Subject::DiaLi => "Địa lí",
            Subject::LichSu => "Lịch sử",
            Subject::GdktPl => "Giáo dục kinh tế và pháp luật",
            Subject::TinHoc => "Tin học",
            Subject::CongNghe => "Công nghệ",
            Subject::TiengAnh => "Tiếng Anh",
            Subject::NguVan => "Ngữ văn",
        }
    }
}

/// The shape of a paper: how many questions per part, their points, the time allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Format {
    pub subject: Subject,
    pub minutes: u16,
    pub part1_questions: u8,
    pub part2_questions: u8,
    pub part3_questions: u8,
    /// Points for one correct Part III answer: 0.5 in Maths, 0.25 elsewhere.
    #[schema(value_type = String)]
    pub part3_each: Points,
    /// Literature is an essay paper graded by hand.
    pub essay_only: bool,
    /// True where the official figures are not confirmed (Công nghệ); see docs.
    pub unconfirmed: bool,
}

pub const PART1_EACH: Points = Points(25);

pub fn format_of(subject: Subject) -> Format {
    let base = Format {
        subject,
        minutes: 50,
        part1_questions: 0,
        part2_questions: 0,
        part3_questions: 0,
        part3_each: Points(25),
        essay_only: false,
        unconfirmed: false,
    };
    match subject {
        Subject::Toan => Format {
            minutes: 90,
            part1_questions: 12,
            part2_questions: 4,
            part3_questions: 6,
            part3_each: Points(50),
            ..base
        },
        Subject::VatLi | Subject::HoaHoc | Subject::SinhHoc | Subject::DiaLi => Format {
            part1_questions: 18,
            part2_questions: 4,
            part3_questions: 6,
            ..base
        },
        Subject::LichSu | Subject::GdktPl | Subject::TinHoc => Format {
            part1_questions: 24,
            part2_questions: 4,
            ..base
        },
        Subject::CongNghe => Format {
            part1_questions: 24,
            part2_questions: 4,
            unconfirmed: true,
            ..base
        },
        Subject::TiengAnh => Format {
            part1_questions: 40,
            ..base
        },
        Subject::NguVan => Format {
            minutes: 120,
            essay_only: true,
            ..base
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Choice {
    A,
    B,
    C,
    D,
}

impl Choice {
    pub const ALL: [Choice; 4] = [Choice::A, Choice::B, Choice::C, Choice::D];

    pub fn parse(text: &str) -> Option<Choice> {
        match text.trim().to_ascii_uppercase().as_str() {
            "A" => Some(Choice::A),
            "B" => Some(Choice::B),
            "C" => Some(Choice::C),
            "D" => Some(Choice::D),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(i: usize) -> Option<Choice> {
        Choice::ALL.get(i).copied()
    }

    pub fn letter(self) -> char {
        (b'A' + self as u8) as char
    }
}

/// Đ (true) or S (false) for statements a-d, as answer keys write them: "SĐSĐ".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrueFalseKey(pub [bool; 4]);

/// A candidate's marks on statements a-d; `None` is a statement left blank.
pub type TrueFalseAnswer = [Option<bool>; 4];

pub fn parse_true_false_letter(c: char) -> Option<bool> {
    match c {
        'Đ' | 'đ' | 'D' | 'd' | 'T' | 't' => Some(true),
        'S' | 's' | 'F' | 'f' => Some(false),
        _ => None,
    }
}

impl TrueFalseKey {
    pub fn parse(text: &str) -> Option<TrueFalseKey> {
        let marks: Vec<bool> = text
            .trim()
            .chars()
            .map(parse_true_false_letter)
            .collect::<Option<_>>()?;
        Some(TrueFalseKey(marks.try_into().ok()?))
    }
}

impl fmt::Display for TrueFalseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .iter()
            .try_for_each(|t| f.write_str(if *t { "Đ" } else { "S" }))
    }
}

/// A Part III answer: at most 4 characters from `0-9`, `-` and `,`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShortAnswer(String);

impl ShortAnswer {
    /// The one normalisation applied before comparing (documented in docs/scoring.md):
    /// surrounding spaces are dropped and a decimal point `.` is read as the comma `,`.
    /// Nothing else is changed: "0,50" and "0,5" stay different unless both are accepted.
    pub fn parse(raw: &str) -> Result<ShortAnswer, &'static str> {
        let text: String = raw
            .trim()
            .chars()
            .map(|c| if c == '.' { ',' } else { c })
            .collect();
        if text.is_empty() {
            return Err("required");
        }
        if text.chars().count() > 4 {
            return Err("short_answer_too_long");
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ',')
        {
            return Err("short_answer_invalid");
        }
        Ok(ShortAnswer(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShortAnswer {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ShortAnswer::parse(&value)
    }
}

impl From<ShortAnswer> for String {
    fn from(value: ShortAnswer) -> String {
        value.0
    }
}

// ---------------------------------------------------------------------------------------------
// The rules

/// Part I: 0.25 for the right letter; nothing taken off for a wrong one.
pub fn score_multiple_choice(key: Choice, answer: Option<Choice>) -> Points {
    if answer == Some(key) {
        PART1_EACH
    } else {
        Points::ZERO
    }
}

/// Part II, by how many of the four statements are marked correctly; a blank is not correct.
pub fn score_true_false(key: TrueFalseKey, answer: &TrueFalseAnswer) -> Points {
    let correct = key
        .0
        .iter()
        .zip(answer)
        .filter(|(k, a)| a.as_ref() == Some(k))
        .count();
    Points(match correct {
        0 => 0,
        1 => 10,
        2 => 25,
        3 => 50,
        _ => 100,
    })
}

/// Part III: full marks when the normalised answer equals one of the accepted answers.
pub fn score_short_answer(accepted: &[ShortAnswer], answer: Option<&str>, each: Points) -> Points {
    match answer.map(ShortAnswer::parse) {
        Some(Ok(given)) if accepted.contains(&given) => each,
        _ => Points::ZERO,
    }
}

/// One paper code's answer key, in question order as printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaperKey {
    pub subject: Subject,
    pub part1: Vec<Choice>,
    pub part2: Vec<TrueFalseKey>,
    pub part3: Vec<Vec<ShortAnswer>>,
}

/// What a candidate marked, in the same order; shorter lists mean trailing blanks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Responses {
    pub part1: Vec<Option<Choice>>,
    pub part2: Vec<TrueFalseAnswer>,
    pub part3: Vec<Option<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PaperScore {
    pub part1: Points,
    pub part2: Points,
    pub part3: Points,
    pub total: Points,
}

pub fn score_paper(key: &PaperKey, responses: &Responses) -> PaperScore {
    let format = format_of(key.subject);
    let part1 = key
        .part1
        .iter()
        .enumerate()
        .map(|(i, k)| score_multiple_choice(*k, responses.part1.get(i).copied().flatten()))
        .sum();
    let part2 = key
        .part2
        .iter()
        .enumerate()
        .map(|(i, k)| score_true_false(*k, responses.part2.get(i).unwrap_or(&[None; 4])))
        .sum();
    let part3 = key
        .part3
        .iter()
        .enumerate()
        .map(|(i, accepted)| {
            score_short_answer(
                accepted,
                responses.part3.get(i).and_then(|a| a.as_deref()),
                format.part3_each,
            )
        })
        .sum();
    PaperScore {
        part1,
        part2,
        part3,
        total: part1 + part2 + part3,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sa(list: &[&str]) -> Vec<ShortAnswer> {
        list.iter()
            .map(|a| ShortAnswer::parse(a).unwrap())
            .collect()
    }

    #[test]
    fn part_one_is_a_quarter_point_with_no_negative_marking() {
        let cases = [
            (Choice::B, Some(Choice::B), 25, "right"),
            (Choice::B, Some(Choice::C), 0, "wrong costs nothing"),
            (Choice::B, None, 0, "blank"),
        ];
        for (key, answer, want, why) in cases {
            assert_eq!(score_multiple_choice(key, answer), Points(want), "{why}");
        }
    }

    #[test]
    fn part_two_follows_the_official_table() {
        let key = TrueFalseKey::parse("SĐSĐ").unwrap();
        let t = Some(true);
        let f = Some(false);
        let cases: [(TrueFalseAnswer, u32, &str); 8] = [
            ([t, f, t, f], 0, "0 right -> 0"),
            ([f, f, t, f], 10, "1 right -> 0.1"),
            ([f, t, t, f], 25, "2 right -> 0.25"),
            ([f, t, f, f], 50, "3 right -> 0.5"),
            ([f, t, f, t], 100, "4 right -> 1.0"),
            ([None, None, None, None], 0, "all blank"),
            ([f, t, f, None], 50, "a blank statement is not correct"),
            ([None, t, None, None], 10, "one marked, right"),
        ];
        for (answer, want, why) in cases {
            assert_eq!(score_true_false(key, &answer), Points(want), "{why}");
        }
    }

    #[test]
    fn part_three_is_half_a_point_in_maths_and_a_quarter_elsewhere() {
        assert_eq!(format_of(Subject::Toan).part3_each, Points(50));
        for subject in [
            Subject::VatLi,
            Subject::HoaHoc,
            Subject::SinhHoc,
            Subject::DiaLi,
        ] {
            assert_eq!(format_of(subject).part3_each, Points(25), "{subject:?}");
        }
        let accepted = sa(&["-1,5"]);
        assert_eq!(
            score_short_answer(&accepted, Some("-1,5"), Points(50)),
            Points(50)
        );
        assert_eq!(
            score_short_answer(&accepted, Some(" -1.5 "), Points(50)),
            Points(50),
            "a point is read as the comma"
        );
        assert_eq!(
            score_short_answer(&accepted, Some("-1,50"), Points(50)),
            Points::ZERO,
            "0,50 is not 0,5 unless accepted"
        );
        assert_eq!(
            score_short_answer(&sa(&["0,5", "0,50"]), Some("0,50"), Points(25)),
            Points(25),
            "both accepted"
        );
        assert_eq!(
            score_short_answer(&accepted, None, Points(50)),
            Points::ZERO
        );
        assert_eq!(
            score_short_answer(&sa(&["8000"]), Some("08000"), Points(25)),
            Points::ZERO,
            "five characters never score"
        );
    }

    #[test]
    fn short_answers_are_four_characters_from_digits_minus_and_comma() {
        for ok in ["-1,5", "3,25", "8000", "0", "1.5"] {
            assert!(ShortAnswer::parse(ok).is_ok(), "{ok}");
        }
        let cases = [
            ("12345", "short_answer_too_long"),
            ("1/2", "short_answer_invalid"),
            ("1e3", "short_answer_invalid"),
            ("  ", "required"),
        ];
        for (bad, code) in cases {
            assert_eq!(ShortAnswer::parse(bad), Err(code), "{bad}");
        }
    }

    #[test]
    fn every_format_totals_ten_points() {
        for subject in Subject::ALL {
            let f = format_of(subject);
            if f.essay_only {
                assert_eq!(subject, Subject::NguVan);
                continue;
            }
            let total = PART1_EACH.as_hundredths() * f.part1_questions as u32
                + 100 * f.part2_questions as u32
                + f.part3_each.as_hundredths() * f.part3_questions as u32;
            assert_eq!(total, 1000, "{subject:?}");
        }
        let cases = [
            (Subject::Toan, 90, 12, 4, 6),
            (Subject::VatLi, 50, 18, 4, 6),
            (Subject::DiaLi, 50, 18, 4, 6),
            (Subject::LichSu, 50, 24, 4, 0),
            (Subject::TinHoc, 50, 24, 4, 0),
            (Subject::CongNghe, 50, 24, 4, 0),
            (Subject::TiengAnh, 50, 40, 0, 0),
            (Subject::NguVan, 120, 0, 0, 0),
        ];
        for (subject, minutes, p1, p2, p3) in cases {
            let f = format_of(subject);
            assert_eq!(
                (
                    f.minutes,
                    f.part1_questions,
                    f.part2_questions,
                    f.part3_questions
                ),
                (minutes, p1, p2, p3),
                "{subject:?}"
            );
        }
        assert!(format_of(Subject::CongNghe).unconfirmed);
    }

    #[test]
    fn points_print_with_two_decimals_and_parse_exactly() {
        assert_eq!(Points(875).to_string(), "8.75");
        assert_eq!(Points(1000).to_string(), "10.00");
        assert_eq!(Points(10).to_string(), "0.10");
        assert_eq!(Points::parse("0,25"), Some(Points(25)));
        assert_eq!(Points::parse("4.5"), Some(Points(450)));
        assert_eq!(Points::parse("10"), Some(Points(1000)));
        assert_eq!(Points::parse("0.125"), None, "no third decimal");
        assert_eq!(Points::parse("-1"), None);
    }

    fn maths_key() -> PaperKey {
        PaperKey {
            subject: Subject::Toan,
            part1: (0..12).map(|i| Choice::ALL[i % 4]).collect(),
            part2: (0..4)
                .map(|i| TrueFalseKey([i % 2 == 0, true, false, i % 3 == 0]))
                .collect(),
            part3: (0..6)
                .map(|i| sa(&[["1,5", "-2", "8000", "0,25", "12", "3"][i]]))
                .collect(),
        }
    }

    fn answers() -> impl Strategy<Value = Responses> {
        let choice = prop::option::of(prop::sample::select(Choice::ALL.to_vec()));
        let mark = prop::option::of(any::<bool>());
        let short = prop::option::of(prop::sample::select(vec![
            "1,5", "-2", "8000", "0,25", "12", "3", "7", "abc", "12345",
        ]));
        (
            prop::collection::vec(choice, 0..=12),
            prop::collection::vec(prop::array::uniform4(mark), 0..=4),
            prop::collection::vec(short.prop_map(|s| s.map(str::to_owned)), 0..=6),
        )
            .prop_map(|(part1, part2, part3)| Responses {
                part1,
                part2,
                part3,
            })
    }

    proptest! {
        #[test]
        fn a_paper_scores_between_zero_and_ten(responses in answers()) {
            let score = score_paper(&maths_key(), &responses);
            prop_assert!(score.total <= Points(1000));
            prop_assert_eq!(score.total, score.part1 + score.part2 + score.part3);
        }

        #[test]
        fn one_more_right_answer_never_lowers_the_score(responses in answers(), which in 0usize..22) {
            let key = maths_key();
            let before = score_paper(&key, &responses).total;
            let mut better = responses.clone();
            match which {
                0..=11 => {
                    better.part1.resize(12, None);
                    better.part1[which] = Some(key.part1[which]);
                }
                12..=15 => {
                    let q = which - 12;
                    better.part2.resize(4, [None; 4]);
                    let wrong = (0..4).find(|s| better.part2[q][*s] != Some(key.part2[q].0[*s]));
                    if let Some(s) = wrong {
                        better.part2[q][s] = Some(key.part2[q].0[s]);
                    }
                }
                _ => {
                    let q = which - 16;
                    better.part3.resize(6, None);
                    better.part3[q] = Some(key.part3[q][0].as_str().to_owned());
                }
            }
            prop_assert!(score_paper(&key, &better).total >= before);
        }
    }

    #[test]
    fn answering_with_the_key_scores_ten() {
        let key = maths_key();
        let responses = Responses {
            part1: key.part1.iter().map(|c| Some(*c)).collect(),
            part2: key.part2.iter().map(|k| k.0.map(Some)).collect(),
            part3: key
                .part3
                .iter()
                .map(|a| Some(a[0].as_str().to_owned()))
                .collect(),
        };
        let score = score_paper(&key, &responses);
        assert_eq!(
            (score.part1, score.part2, score.part3, score.total),
            (Points(300), Points(400), Points(300), Points(1000))
        );
    }
}
