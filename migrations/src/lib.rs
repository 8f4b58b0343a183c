//! Schema migrations, one change per file. No seed data here: `hocthi seed` loads
//! `content-samples/`.
pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_schools_and_classes;
mod m20261124_000002_create_users;
mod m20261124_000003_create_refresh_tokens;
mod m20261124_000004_create_audit_events;
mod m20261124_000005_create_items;
mod m20261124_000006_add_user_subjects;
mod m20261124_000007_create_papers;
mod m20261124_000008_create_item_groups;
mod m20261124_000009_create_exams;
mod m20261124_000010_create_content;
mod m20261124_000011_create_assignments_and_usage;
mod m20261124_000012_index_content_browsing;
mod m20261124_000013_create_identity_numbers;
mod m20261124_000014_create_consents;
mod m20261124_000015_create_photos;
mod m20261124_000016_create_passkeys;
mod m20261202_000017_index_candidates_by_room;
mod m20261207_000018_create_notices;
mod m20261207_000019_add_exam_staff;
mod m20261207_000020_verify_guardian_consent;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_schools_and_classes::Migration),
            Box::new(m20261124_000002_create_users::Migration),
            Box::new(m20261124_000003_create_refresh_tokens::Migration),
            Box::new(m20261124_000004_create_audit_events::Migration),
            Box::new(m20261124_000005_create_items::Migration),
            Box::new(m20261124_000006_add_user_subjects::Migration),
            Box::new(m20261124_000007_create_papers::Migration),
            Box::new(m20261124_000008_create_item_groups::Migration),
            Box::new(m20261124_000009_create_exams::Migration),
            Box::new(m20261124_000010_create_content::Migration),
            Box::new(m20261124_000011_create_assignments_and_usage::Migration),
            Box::new(m20261124_000012_index_content_browsing::Migration),
            Box::new(m20261124_000013_create_identity_numbers::Migration),
            Box::new(m20261124_000014_create_consents::Migration),
            Box::new(m20261124_000015_create_photos::Migration),
            Box::new(m20261124_000016_create_passkeys::Migration),
            Box::new(m20261202_000017_index_candidates_by_room::Migration),
            Box::new(m20261207_000018_create_notices::Migration),
            Box::new(m20261207_000019_add_exam_staff::Migration),
            Box::new(m20261207_000020_verify_guardian_consent::Migration),
        ]
    }
}
