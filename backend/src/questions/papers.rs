//! Exam matrices (ma trận đề) and paper codes (mã đề): drawing items per cell with a seed, and
//! shuffling each code by the rules in docs (questions within their part, Part I options with
//! the key remapped, Part II statements only when asked, Part III in place). Pure functions:
//! the same inputs and seed always give the same paper.
//! Over 700 lines: about 270 of them are its tests (the draw's and the shuffle's properties).
use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::domain::{Body, Kind, Level};
use crate::exam_format::{Choice, Subject, format_of};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cell {
    pub kind: Kind,
    pub level: Level,
    pub count: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MatrixRow {
    /// A topic path prefix: items whose topic starts with it (diacritics ignored) fill the row.
    pub topic: String,
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Matrix {
    pub subject: Subject,
    pub name: String,
    pub rows: Vec<MatrixRow>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Guidance {
    /// Share of questions per level, in percent; the official guidance aims at about 40/30/30.
    pub level_percent: BTreeMap<String, f64>,
    pub level_target_percent: BTreeMap<String, f64>,
    /// Share of points per item type, in percent, and the official paper's own split (Toán
    /// 30/40/30, Vật lí 45/40/15; an essay paper 100% essay). No essay entry where the
    /// subject's paper has no essay part.
    pub points_percent: BTreeMap<String, f64>,
    pub points_target_percent: BTreeMap<String, f64>,
}

impl Matrix {
    pub fn count(&self, kind: Kind) -> usize {
        self.rows
            .iter()
            .flat_map(|r| &r.cells)
            .filter(|c| c.kind == kind)
            .map(|c| c.count as usize)
            .sum()
    }

    /// The paper format fixes how many questions each part has: the matrix must add up to it.
    pub fn check_shape(&self) -> Result<(), String> {
        let f = format_of(self.subject);
        if f.essay_only {
            // Ngữ văn: essays only (reading and writing), marked by hand against each rubric.
            let essays = self.count(Kind::Essay);
            let others = self.count(Kind::MultipleChoice)
                + self.count(Kind::TrueFalse)
                + self.count(Kind::ShortAnswer);
            if others > 0 || !(1..=10).contains(&essays) {
                return Err(format!(
                    "{} is an essay paper: 1-10 essays and no other questions; the matrix has {} essays and {} others",
                    self.subject.name_vi(),
                    essays,
                    others
                ));
            }
            if self.rows.iter().any(|r| r.topic.trim().is_empty()) {
                return Err("every row needs a topic".into());
            }
            return Ok(());
        }
        let have = (
            self.count(Kind::MultipleChoice),
            self.count(Kind::TrueFalse),
            self.count(Kind::ShortAnswer),
            self.count(Kind::Essay),
        );
        let want = (
            f.part1_questions as usize,
            f.part2_questions as usize,
            f.part3_questions as usize,
            0,
        );
        if have != want {
            return Err(format!(
                "{} needs {}/{}/{} questions in parts I/II/III; the matrix has {}/{}/{} (and {} essays)",
                self.subject.name_vi(),
                want.0,
                want.1,
                want.2,
                have.0,
                have.1,
                have.2,
                have.3
            ));
        }
        if self.rows.iter().any(|r| r.topic.trim().is_empty()) {
            return Err("every row needs a topic".into());
        }
        Ok(())
    }

    pub fn guidance(&self) -> Guidance {
        let f = format_of(self.subject);
        let total: usize = self
            .rows
            .iter()
            .flat_map(|r| &r.cells)
            .map(|c| c.count as usize)
            .sum();
        let pct = |n: f64, of: f64| {
            if of == 0.0 {
                0.0
            } else {
                (n * 1000.0 / of).round() / 10.0
            }
        };
        let level_percent = Level::ALL
            .iter()
            .map(|l| {
                let n: usize = self
                    .rows
                    .iter()
                    .flat_map(|r| &r.cells)
                    .filter(|c| c.level == *l)
                    .map(|c| c.count as usize)
                    .sum();
                (l.as_str().to_owned(), pct(n as f64, total as f64))
            })
            .collect();
        let points = [
            (
                "multiple_choice",
                0.25 * self.count(Kind::MultipleChoice) as f64,
            ),
            ("true_false", 1.0 * self.count(Kind::TrueFalse) as f64),
            (
                "short_answer",
                f.part3_each.as_hundredths() as f64 / 100.0 * self.count(Kind::ShortAnswer) as f64,
            ),
        ];
        let all_points: f64 = points.iter().map(|(_, p)| p).sum();
        // The target is the official paper's own split of its 10 points (Toán 3/4/3, Vật lí
        // 4.5/4/1.5); an essay paper is all essay. No essay share where the paper has none.
        let points_target_percent = if f.essay_only {
            [("essay".to_owned(), 100.0)].into()
        } else {
            let official = [
                ("multiple_choice", 0.25 * f.part1_questions as f64),
                ("true_false", 1.0 * f.part2_questions as f64),
                (
                    "short_answer",
                    f.part3_each.as_hundredths() as f64 / 100.0 * f.part3_questions as f64,
                ),
            ];
            let official_total: f64 = official.iter().map(|(_, p)| p).sum();
            official
                .iter()
                .map(|(k, p)| (k.to_string(), pct(*p, official_total)))
                .collect()
        };
        let points_percent = if f.essay_only {
            [("essay".to_owned(), 100.0)].into()
        } else {
            points
                .iter()
                .map(|(k, p)| (k.to_string(), pct(*p, all_points)))
                .collect()
        };
        Guidance {
            level_percent,
            level_target_percent: [("biet", 40.0), ("hieu", 30.0), ("van_dung", 30.0)]
                .map(|(k, v)| (k.to_owned(), v))
                .into(),
            points_percent,
            points_target_percent,
        }
    }
}

/// An approved item version that can fill a cell.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub item_id: Uuid,
    pub version: i32,
    pub body: Body,
    /// The group it travels with, and its place in it.
    pub group: Option<Uuid>,
    pub position: i32,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CellReport {
    pub topic: String,
    pub kind: Kind,
    pub level: Level,
    pub required: u16,
    pub available: usize,
}

/// A deterministic generator (SplitMix64), ours so a paper can be rebuilt from its seed on any
/// version of any library.
struct Shuffler(u64);

impl Shuffler {
    fn new(seed: i64, salt: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(seed.to_le_bytes())
            .chain_update(salt.as_bytes())
            .finalize();
        Shuffler(u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher-Yates; the modulo bias over 2^64 is far below anything a paper can show.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Slot {
    /// 1, 2 or 3: the part this question is printed in.
    pub part: u8,
    pub item_id: Uuid,
    pub version: i32,
    #[serde(default)]
    pub group: Option<Uuid>,
    /// For Part I, the author's option index printed as A, B, C, D; for Part II, the author's
    /// statement index printed as a, b, c, d. Empty otherwise.
    pub order: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CodeKey {
    pub subject: Subject,
    pub paper_code: String,
    /// One letter per Part I question.
    pub part1: Vec<String>,
    /// Four Đ/S letters per Part II question.
    pub part2: Vec<String>,
    /// Accepted answers per Part III question.
    pub part3: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaperCode {
    pub code: String,
    pub slots: Vec<Slot>,
    pub key: CodeKey,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PaperOptions {
    /// How many codes (mã đề), 1-99.
    pub codes: u8,
    /// The first two digits of every code; by default the subject's (Toán 01, Vật lí 02, …).
    pub code_prefix: Option<String>,
    /// Shuffle Part II statements too (off by default).
    #[serde(default)]
    pub shuffle_statements: bool,
}

/// Codes' first two digits by subject. 01 Maths, 02 Physics, 08 History and 09 Geography were
/// seen on 2025 papers; the others follow the same order and are a setting, not a fact.
pub fn default_prefix(subject: Subject) -> &'static str {
    match subject {
        Subject::Toan => "01",
        Subject::VatLi => "02",
        Subject::HoaHoc => "03",
        Subject::SinhHoc => "04",
        Subject::NguVan => "05",
        Subject::TiengAnh => "06",
        Subject::GdktPl => "07",
        Subject::LichSu => "08",
        Subject::DiaLi => "09",
        Subject::TinHoc => "10",
        Subject::CongNghe => "11",
    }
}

pub fn part_of(kind: Kind) -> u8 {
    match kind {
        Kind::MultipleChoice => 1,
        Kind::TrueFalse => 2,
        Kind::ShortAnswer => 3,
        Kind::Essay => 4,
    }
}

/// Draws each cell's items: candidates in a seeded order, those used by recent papers last,
/// no item twice. A grouped item comes with every member of its group (each counted in a cell
/// it fits) or not at all. Returns the picks, or the cells that cannot be filled.
pub fn draw(
    matrix: &Matrix,
    candidates: &[Vec<Candidate>],
    recently_used: &HashSet<Uuid>,
    seed: i64,
) -> Result<Vec<Candidate>, Vec<CellReport>> {
    let cells: Vec<(&MatrixRow, &Cell)> = matrix
        .rows
        .iter()
        .flat_map(|r| r.cells.iter().map(move |c| (r, c)))
        .collect();
    let mut remaining: Vec<usize> = cells.iter().map(|(_, c)| c.count as usize).collect();
    let in_pool = |cell: usize, id: Uuid| {
        candidates
            .get(cell)
            .is_some_and(|p| p.iter().any(|c| c.item_id == id))
    };
    let mut picked: Vec<Candidate> = Vec::new();
    let mut taken = HashSet::new();
    let mut short = Vec::new();
    for (index, ((row, cell), pool)) in cells.iter().zip(candidates).enumerate() {
        let mut order: Vec<&Candidate> = pool
            .iter()
            .filter(|c| !taken.contains(&c.item_id))
            .collect();
        Shuffler::new(seed, &format!("cell-{index}")).shuffle(&mut order);
        order.sort_by_key(|c| recently_used.contains(&c.item_id));
        for candidate in order {
            if remaining[index] == 0 {
                break;
            }
            if taken.contains(&candidate.item_id) {
                continue;
            }
            let Some(group) = candidate.group else {
                remaining[index] -= 1;
                taken.insert(candidate.item_id);
                picked.push(candidate.clone());
                continue;
            };
            // The whole group, each member in a cell with room (its own cell first).
            let mut members: Vec<&Candidate> = candidates
                .iter()
                .flatten()
                .filter(|c| c.group == Some(group))
                .collect();
            members.sort_by_key(|c| (c.position, c.item_id));
            members.dedup_by_key(|c| c.item_id);
            let mut room = remaining.clone();
            let fits = members.iter().all(|m| {
                let slot = std::iter::once(index)
                    .chain(0..cells.len())
                    .find(|j| room[*j] > 0 && in_pool(*j, m.item_id));
                slot.map(|j| room[j] -= 1).is_some()
            });
            if fits && members.iter().all(|m| !taken.contains(&m.item_id)) {
                remaining = room;
                for m in members {
                    taken.insert(m.item_id);
                    picked.push(m.clone());
                }
            }
        }
        if remaining[index] > 0 {
            short.push(CellReport {
                topic: row.topic.clone(),
                kind: cell.kind,
                level: cell.level,
                required: cell.count,
                available: pool.len(),
            });
        }
    }
    if short.is_empty() {
        Ok(picked)
    } else {
        Err(short)
    }
}

/// Makes every code from the drawn items.
pub fn make_codes(
    subject: Subject,
    items: &[Candidate],
    seed: i64,
    options: &PaperOptions,
) -> Vec<PaperCode> {
    let prefix = options
        .code_prefix
        .clone()
        .unwrap_or_else(|| default_prefix(subject).to_owned());
    (1..=options.codes)
        .map(|n| {
            let code = format!("{prefix}{n:02}");
            let mut rng = Shuffler::new(seed, &code);
            let mut slots = Vec::new();
            let mut key = CodeKey {
                subject,
                paper_code: code.clone(),
                part1: vec![],
                part2: vec![],
                part3: vec![],
            };
            // Part IV: essays (Ngữ văn), in the author's order, reading before writing.
            for part in 1..=4u8 {
                // Units: a lone item, or a group's members in their order, which move as one block.
                let mut units: Vec<Vec<&Candidate>> = Vec::new();
                for c in items.iter().filter(|c| part_of(c.body.kind()) == part) {
                    match c
                        .group
                        .and_then(|g| units.iter().position(|u| u[0].group == Some(g)))
                    {
                        Some(u) => units[u].push(c),
                        None => units.push(vec![c]),
                    }
                }
                units.iter_mut().for_each(|u| u.sort_by_key(|c| c.position));
                // Parts III and IV keep the author's order; I and II are shuffled within the part.
                if part <= 2 {
                    rng.shuffle(&mut units);
                }
                for c in units.into_iter().flatten() {
                    let mut order: Vec<u8> = Vec::new();
                    match &c.body {
                        Body::MultipleChoice { correct, .. } => {
                            order = vec![0, 1, 2, 3];
                            rng.shuffle(&mut order);
                            let printed = order
                                .iter()
                                .position(|o| *o as usize == correct.index())
                                .expect("a permutation");
                            key.part1.push(
                                Choice::from_index(printed)
                                    .expect("four options")
                                    .letter()
                                    .to_string(),
                            );
                        }
                        Body::TrueFalse { statements, .. } => {
                            order = vec![0, 1, 2, 3];
                            if options.shuffle_statements {
                                rng.shuffle(&mut order);
                            }
                            key.part2.push(
                                order
                                    .iter()
                                    .map(|o| {
                                        if statements[*o as usize].correct {
                                            'Đ'
                                        } else {
                                            'S'
                                        }
                                    })
                                    .collect(),
                            );
                        }
                        Body::ShortAnswer { accepted, .. } => {
                            key.part3
                                .push(accepted.iter().map(|a| a.as_str().to_owned()).collect());
                        }
                        Body::Essay { .. } => {}
                    }
                    slots.push(Slot {
                        part,
                        item_id: c.item_id,
                        version: c.version,
                        group: c.group,
                        order,
                    });
                }
            }
            PaperCode { code, slots, key }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exam_format::{PaperKey, Responses, ShortAnswer, TrueFalseKey, score_paper};
    use crate::questions::domain::Statement;

    fn candidate(kind: Kind, n: usize) -> Candidate {
        let body = match kind {
            Kind::MultipleChoice => Body::MultipleChoice {
                stem: format!("Câu {n}"),
                options: (0..4).map(|i| format!("Phương án {n}.{i}")).collect(),
                correct: Choice::ALL[n % 4],
            },
            Kind::TrueFalse => Body::TrueFalse {
                stem: format!("Câu {n}"),
                statements: (0..4)
                    .map(|i| Statement {
                        text: format!("Ý {n}.{i}"),
                        correct: (n + i).is_multiple_of(3),
                    })
                    .collect(),
            },
            _ => Body::ShortAnswer {
                stem: format!("Câu {n}"),
                accepted: vec![ShortAnswer::parse(&format!("{}", n % 100)).unwrap()],
            },
        };
        Candidate {
            item_id: Uuid::from_u128(n as u128 + 1),
            version: 1,
            body,
            group: None,
            position: 0,
        }
    }

    fn maths() -> (Matrix, Vec<Vec<Candidate>>) {
        let matrix = Matrix {
            subject: Subject::Toan,
            name: "Đề thử".into(),
            rows: vec![MatrixRow {
                topic: "Chương 1".into(),
                cells: vec![
                    Cell {
                        kind: Kind::MultipleChoice,
                        level: Level::Biet,
                        count: 12,
                    },
                    Cell {
                        kind: Kind::TrueFalse,
                        level: Level::Hieu,
                        count: 4,
                    },
                    Cell {
                        kind: Kind::ShortAnswer,
                        level: Level::VanDung,
                        count: 6,
                    },
                ],
            }],
        };
        let pools = vec![
            (0..30)
                .map(|n| candidate(Kind::MultipleChoice, n))
                .collect(),
            (100..110).map(|n| candidate(Kind::TrueFalse, n)).collect(),
            (200..210)
                .map(|n| candidate(Kind::ShortAnswer, n))
                .collect(),
        ];
        (matrix, pools)
    }

    fn options(codes: u8) -> PaperOptions {
        PaperOptions {
            codes,
            code_prefix: None,
            shuffle_statements: true,
        }
    }

    #[test]
    fn guidance_aims_at_the_official_split_with_no_essay_where_there_is_none() {
        let (matrix, _) = maths();
        let guidance = matrix.guidance();
        let target: Vec<(&str, f64)> = guidance
            .points_target_percent
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            target,
            [
                ("multiple_choice", 30.0),
                ("short_answer", 30.0),
                ("true_false", 40.0)
            ]
        );
        assert!(!guidance.points_percent.contains_key("essay"));
        let physics = Matrix {
            subject: Subject::VatLi,
            ..matrix
        };
        assert_eq!(
            physics.guidance().points_target_percent["multiple_choice"],
            45.0
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_paper_and_another_seed_another() {
        let (matrix, pools) = maths();
        let a = make_codes(
            Subject::Toan,
            &draw(&matrix, &pools, &HashSet::new(), 7).unwrap(),
            7,
            &options(24),
        );
        let b = make_codes(
            Subject::Toan,
            &draw(&matrix, &pools, &HashSet::new(), 7).unwrap(),
            7,
            &options(24),
        );
        let c = make_codes(
            Subject::Toan,
            &draw(&matrix, &pools, &HashSet::new(), 8).unwrap(),
            8,
            &options(24),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        let codes: Vec<&str> = a.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes.first(), Some(&"0101"));
        assert_eq!(codes.last(), Some(&"0124"));
        assert_ne!(a[0].slots, a[1].slots, "codes differ from each other");
    }

    #[test]
    fn every_code_answered_with_its_own_key_scores_ten() {
        let (matrix, pools) = maths();
        let items = draw(&matrix, &pools, &HashSet::new(), 42).unwrap();
        for code in make_codes(Subject::Toan, &items, 42, &options(24)) {
            // The key must agree with what is printed: rebuild it from the slots.
            for (slot, letter) in code
                .slots
                .iter()
                .filter(|s| s.part == 1)
                .zip(&code.key.part1)
            {
                let item = items.iter().find(|i| i.item_id == slot.item_id).unwrap();
                let Body::MultipleChoice { correct, .. } = &item.body else {
                    panic!()
                };
                let printed = Choice::parse(letter).unwrap().index();
                assert_eq!(
                    slot.order[printed] as usize,
                    correct.index(),
                    "code {} prints the right option at the key letter",
                    code.code
                );
            }
            let key = PaperKey {
                subject: Subject::Toan,
                part1: code
                    .key
                    .part1
                    .iter()
                    .map(|l| Choice::parse(l).unwrap())
                    .collect(),
                part2: code
                    .key
                    .part2
                    .iter()
                    .map(|k| TrueFalseKey::parse(k).unwrap())
                    .collect(),
                part3: code
                    .key
                    .part3
                    .iter()
                    .map(|a| a.iter().map(|s| ShortAnswer::parse(s).unwrap()).collect())
                    .collect(),
            };
            let responses = Responses {
                part1: key.part1.iter().map(|c| Some(*c)).collect(),
                part2: key.part2.iter().map(|k| k.0.map(Some)).collect(),
                part3: key
                    .part3
                    .iter()
                    .map(|a| Some(a[0].as_str().to_owned()))
                    .collect(),
            };
            assert_eq!(
                score_paper(&key, &responses).total.to_string(),
                "10.00",
                "code {}",
                code.code
            );
            let parts: Vec<u8> = code.slots.iter().map(|s| s.part).collect();
            assert!(
                parts.windows(2).all(|w| w[0] <= w[1]),
                "parts keep their order"
            );
            let part3: Vec<Uuid> = code
                .slots
                .iter()
                .filter(|s| s.part == 3)
                .map(|s| s.item_id)
                .collect();
            let drawn3: Vec<Uuid> = items
                .iter()
                .filter(|i| i.body.kind() == Kind::ShortAnswer)
                .map(|i| i.item_id)
                .collect();
            assert_eq!(part3, drawn3, "Part III is not reordered");
        }
    }

    #[test]
    fn recently_used_items_come_last_and_short_cells_are_reported() {
        let (matrix, pools) = maths();
        let recent: HashSet<Uuid> = pools[0].iter().take(18).map(|c| c.item_id).collect();
        let items = draw(&matrix, &pools, &recent, 1).unwrap();
        let mc: Vec<&Candidate> = items
            .iter()
            .filter(|i| i.body.kind() == Kind::MultipleChoice)
            .collect();
        assert!(
            mc.iter().all(|c| !recent.contains(&c.item_id)),
            "12 fresh items exist, so none of the recent 18 is used"
        );
        let thin = vec![pools[0][..5].to_vec(), pools[1].clone(), pools[2].clone()];
        let short = draw(&matrix, &thin, &HashSet::new(), 1).unwrap_err();
        assert_eq!(
            (short.len(), short[0].required, short[0].available),
            (1, 12, 5)
        );
    }

    #[test]
    fn groups_are_drawn_whole_and_printed_together() {
        let (matrix, mut pools) = maths();
        let passage = Uuid::from_u128(999);
        // Three items of the multiple-choice pool share one figure.
        for (position, c) in pools[0].iter_mut().take(3).enumerate() {
            c.group = Some(passage);
            c.position = position as i32 + 1;
        }
        let mut with_group = 0;
        for seed in 0..40 {
            let items = draw(&matrix, &pools, &HashSet::new(), seed).unwrap();
            let members: Vec<&Candidate> =
                items.iter().filter(|c| c.group == Some(passage)).collect();
            assert!(
                members.is_empty() || members.len() == 3,
                "seed {seed}: a group is drawn whole or not at all"
            );
            if members.is_empty() {
                continue;
            }
            with_group += 1;
            for code in make_codes(Subject::Toan, &items, seed, &options(4)) {
                let at: Vec<usize> = code
                    .slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.group == Some(passage))
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(at.len(), 3);
                assert!(
                    at.windows(2).all(|w| w[1] == w[0] + 1),
                    "code {}: the group stays together",
                    code.code
                );
                let order: Vec<Uuid> = at.iter().map(|i| code.slots[*i].item_id).collect();
                assert_eq!(
                    order,
                    pools[0][..3].iter().map(|c| c.item_id).collect::<Vec<_>>(),
                    "members keep their order"
                );
            }
        }
        assert!(with_group > 0, "some seed draws the group");
    }

    #[test]
    fn matrices_must_fit_the_format() {
        let (mut matrix, _) = maths();
        assert!(matrix.check_shape().is_ok());
        matrix.rows[0].cells[0].count = 11;
        assert!(matrix.check_shape().unwrap_err().contains("12/4/6"));
        let g = maths().0.guidance();
        assert_eq!(g.level_percent["biet"], 54.5);
        assert_eq!(g.points_percent["multiple_choice"], 30.0);
    }
}
