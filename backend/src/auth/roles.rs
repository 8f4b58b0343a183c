//! Roles and the scope they are held in (a school, or the whole province).
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ProvinceAdmin,
    SchoolAdmin,
    Teacher,
    Reviewer,
    Proctor,
    Student,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::ProvinceAdmin,
        Role::SchoolAdmin,
        Role::Teacher,
        Role::Reviewer,
        Role::Proctor,
        Role::Student,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ProvinceAdmin => "province_admin",
            Role::SchoolAdmin => "school_admin",
            Role::Teacher => "teacher",
            Role::Reviewer => "reviewer",
            Role::Proctor => "proctor",
            Role::Student => "student",
        }
    }

    /// Accepts the API names and the Vietnamese words a roster spreadsheet uses.
    pub fn parse(text: &str) -> Option<Role> {
        let folded = crate::text::fold(text).replace([' ', '-'], "_");
        Some(match folded.as_str() {
            "province_admin" | "quan_tri_so" => Role::ProvinceAdmin,
            "school_admin" | "quan_tri_truong" => Role::SchoolAdmin,
            "teacher" | "giao_vien" => Role::Teacher,
            "reviewer" | "to_chuyen_mon" | "cot_can" => Role::Reviewer,
            "proctor" | "giam_thi" => Role::Proctor,
            "student" | "hoc_sinh" => Role::Student,
            _ => return None,
        })
    }
}

/// Stored as space-padded names (" teacher reviewer ") so a LIKE finds a role on any database.
pub fn to_db(roles: &[Role]) -> String {
    let mut names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    format!(" {} ", names.join(" "))
}

pub fn from_db(text: &str) -> Vec<Role> {
    text.split_whitespace().filter_map(Role::parse).collect()
}

pub fn db_pattern(role: Role) -> String {
    format!("% {} %", role.as_str())
}

/// Which roles fit which scope: a province admin belongs to no school; school staff and
/// students belong to one; reviewers and proctors may serve a school or the province.
pub fn check_scope(roles: &[Role], school: Option<Uuid>) -> Result<(), &'static str> {
    if roles.is_empty() {
        return Err("required");
    }
    let needs_school = roles
        .iter()
        .any(|r| matches!(r, Role::SchoolAdmin | Role::Teacher | Role::Student));
    let needs_province = roles.contains(&Role::ProvinceAdmin);
    let student_and_staff = roles.contains(&Role::Student) && roles.len() > 1;
    if (needs_school && school.is_none())
        || (needs_province && school.is_some())
        || needs_school && needs_province
        || student_and_staff
    {
        return Err("invalid_scope");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_the_database_form() {
        let roles = vec![Role::Teacher, Role::Reviewer];
        assert_eq!(to_db(&roles), " reviewer teacher ");
        assert_eq!(from_db(&to_db(&roles)), vec![Role::Reviewer, Role::Teacher]);
    }

    #[test]
    fn scope_rules() {
        let school = Some(Uuid::nil());
        let cases = [
            (
                vec![Role::ProvinceAdmin],
                None,
                true,
                "province admin in the province",
            ),
            (
                vec![Role::ProvinceAdmin],
                school,
                false,
                "province admin inside a school",
            ),
            (vec![Role::Teacher], None, false, "teacher without a school"),
            (
                vec![Role::Teacher, Role::Reviewer],
                school,
                true,
                "teacher who reviews",
            ),
            (vec![Role::Reviewer], None, true, "province reviewer"),
            (
                vec![Role::Student, Role::Teacher],
                school,
                false,
                "student and staff at once",
            ),
            (vec![], school, false, "no role"),
        ];
        for (roles, school, ok, why) in cases {
            assert_eq!(check_scope(&roles, school).is_ok(), ok, "{why}");
        }
    }

    #[test]
    fn vietnamese_role_names_parse() {
        assert_eq!(Role::parse("Giáo viên"), Some(Role::Teacher));
        assert_eq!(Role::parse("học sinh"), Some(Role::Student));
        assert_eq!(Role::parse("Giám thị"), Some(Role::Proctor));
        assert_eq!(Role::parse("hiệu trưởng"), None);
    }
}
