use sea_orm_migration::{prelude::*, schema::*};

/// Exams, their sittings, rooms and candidates; attempts with their per-attempt event chain,
/// the append-only log of answer saves, essay marks, incident records and item statistics.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Exams::Table)
                    .col(pk_uuid(Exams::Id))
                    .col(string(Exams::Name))
                    // "exam" or "practice" (homework and practice tests: looser rules).
                    .col(string(Exams::Kind))
                    // "province", "school" or "class".
                    .col(string(Exams::Scope))
                    .col(uuid_null(Exams::SchoolId))
                    .col(uuid_null(Exams::ClassId))
                    .col(text(Exams::Policy))
                    .col(boolean(Exams::ResultsReleased).default(false))
                    .col(uuid(Exams::CreatedBy))
                    .col(timestamp_with_time_zone(Exams::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sittings::Table)
                    .col(pk_uuid(Sittings::Id))
                    .col(uuid(Sittings::ExamId))
                    .col(string(Sittings::Name))
                    .col(uuid(Sittings::PaperId))
                    .col(string(Sittings::Subject))
                    .col(timestamp_with_time_zone(Sittings::StartsAt))
                    .col(integer(Sittings::Minutes))
                    .col(integer(Sittings::LateStartMinutes))
                    .col(string(Sittings::Navigation))
                    .col(timestamp_with_time_zone_null(Sittings::ClosesAt))
                    .col(integer(Sittings::MaxAttempts).default(1))
                    .col(timestamp_with_time_zone_null(Sittings::LockedAt))
                    .col(timestamp_with_time_zone(Sittings::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExamRooms::Table)
                    .col(pk_uuid(ExamRooms::Id))
                    .col(uuid(ExamRooms::SittingId))
                    .col(string(ExamRooms::Name))
                    .col(integer(ExamRooms::Capacity))
                    // Space-padded proctor ids, found with LIKE on either database.
                    .col(text(ExamRooms::Proctors))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Candidates::Table)
                    .col(pk_uuid(Candidates::Id))
                    .col(uuid(Candidates::ExamId))
                    .col(uuid(Candidates::SittingId))
                    .col(uuid_null(Candidates::RoomId))
                    .col(uuid(Candidates::UserId))
                    .col(string(Candidates::Number))
                    .col(integer(Candidates::Seat))
                    .col(integer(Candidates::ExtraMinutes).default(0))
                    .col(boolean(Candidates::AdmittedLate).default(false))
                    .col(timestamp_with_time_zone_null(Candidates::CheckedInAt))
                    .to_owned(),
            )
            .await?;
        for (name, table, cols) in [
            (
                "uq_candidates_number",
                Candidates::Table,
                vec![Candidates::ExamId, Candidates::Number],
            ),
            (
                "uq_candidates_user",
                Candidates::Table,
                vec![Candidates::SittingId, Candidates::UserId],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table).unique();
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Attempts::Table)
                    .col(pk_uuid(Attempts::Id))
                    .col(uuid(Attempts::SittingId))
                    .col(uuid_null(Attempts::CandidateId))
                    .col(uuid(Attempts::UserId))
                    .col(uuid_null(Attempts::RoomId))
                    .col(uuid(Attempts::PaperId))
                    .col(string(Attempts::Code))
                    .col(integer(Attempts::Number).default(1))
                    .col(string(Attempts::State))
                    .col(timestamp_with_time_zone_null(Attempts::StartedAt))
                    // Derived from the attempt's events on every change; kept for the sweeper.
                    .col(timestamp_with_time_zone_null(Attempts::Deadline))
                    .col(timestamp_with_time_zone_null(Attempts::PausedAt))
                    .col(integer(Attempts::Section).default(1))
                    .col(string_null(Attempts::DeviceId))
                    .col(string_null(Attempts::PendingDevice))
                    .col(timestamp_with_time_zone_null(Attempts::SubmittedAt))
                    .col(text_null(Attempts::Score))
                    .col(timestamp_with_time_zone_null(Attempts::GradedAt))
                    .col(text(Attempts::Incidents))
                    .col(integer(Attempts::Version).default(0))
                    .col(integer(Attempts::EventCount).default(0))
                    .col(string(Attempts::LastHash))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_attempts_due",
                vec![Attempts::State, Attempts::Deadline],
            ),
            ("idx_attempts_sitting", vec![Attempts::SittingId]),
            ("idx_attempts_room", vec![Attempts::RoomId]),
            ("idx_attempts_user", vec![Attempts::UserId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Attempts::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AttemptEvents::Table)
                    .col(uuid(AttemptEvents::AttemptId))
                    .col(integer(AttemptEvents::Seq))
                    .col(timestamp_with_time_zone(AttemptEvents::At))
                    .col(string(AttemptEvents::Kind))
                    .col(integer(AttemptEvents::Seconds).default(0))
                    .col(uuid_null(AttemptEvents::ActorId))
                    .col(text(AttemptEvents::Details))
                    .col(string(AttemptEvents::PrevHash))
                    .col(string(AttemptEvents::Hash))
                    .primary_key(
                        Index::create()
                            .col(AttemptEvents::AttemptId)
                            .col(AttemptEvents::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AnswerSaves::Table)
                    .col(uuid(AnswerSaves::AttemptId))
                    .col(integer(AnswerSaves::Slot))
                    .col(big_integer(AnswerSaves::Seq))
                    .col(text(AnswerSaves::Value))
                    .col(timestamp_with_time_zone(AnswerSaves::SavedAt))
                    .primary_key(
                        Index::create()
                            .col(AnswerSaves::AttemptId)
                            .col(AnswerSaves::Slot)
                            .col(AnswerSaves::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EssayMarks::Table)
                    .col(uuid(EssayMarks::AttemptId))
                    .col(integer(EssayMarks::Slot))
                    .col(integer(EssayMarks::Round))
                    .col(uuid(EssayMarks::GraderId))
                    .col(integer(EssayMarks::Points))
                    .col(text(EssayMarks::Comment))
                    .col(timestamp_with_time_zone(EssayMarks::At))
                    .primary_key(
                        Index::create()
                            .col(EssayMarks::AttemptId)
                            .col(EssayMarks::Slot)
                            .col(EssayMarks::Round),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncidentReports::Table)
                    .col(pk_uuid(IncidentReports::Id))
                    .col(uuid(IncidentReports::RoomId))
                    .col(uuid_null(IncidentReports::AttemptId))
                    .col(uuid(IncidentReports::AuthorId))
                    .col(text(IncidentReports::Text))
                    .col(timestamp_with_time_zone(IncidentReports::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ItemStatistics::Table)
                    .col(uuid(ItemStatistics::ItemId))
                    .col(integer(ItemStatistics::Version))
                    .col(uuid(ItemStatistics::SittingId))
                    .col(integer(ItemStatistics::Responses))
                    .col(double(ItemStatistics::Facility))
                    .col(double(ItemStatistics::Discrimination))
                    .col(double(ItemStatistics::PointBiserial))
                    .col(text(ItemStatistics::Options))
                    .col(timestamp_with_time_zone(ItemStatistics::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(ItemStatistics::ItemId)
                            .col(ItemStatistics::Version)
                            .col(ItemStatistics::SittingId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceClock::Table)
                    .col(integer(ServiceClock::Id).primary_key())
                    .col(timestamp_with_time_zone(ServiceClock::LastSeen))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ServiceClock::Table.into_iden(),
            ItemStatistics::Table.into_iden(),
            IncidentReports::Table.into_iden(),
            EssayMarks::Table.into_iden(),
            AnswerSaves::Table.into_iden(),
            AttemptEvents::Table.into_iden(),
            Attempts::Table.into_iden(),
            Candidates::Table.into_iden(),
            ExamRooms::Table.into_iden(),
            Sittings::Table.into_iden(),
            Exams::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Exams {
    Table,
    Id,
    Name,
    Kind,
    Scope,
    SchoolId,
    ClassId,
    Policy,
    ResultsReleased,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sittings {
    Table,
    Id,
    ExamId,
    Name,
    PaperId,
    Subject,
    StartsAt,
    Minutes,
    LateStartMinutes,
    Navigation,
    ClosesAt,
    MaxAttempts,
    LockedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ExamRooms {
    Table,
    Id,
    SittingId,
    Name,
    Capacity,
    Proctors,
}

#[derive(DeriveIden)]
enum Candidates {
    Table,
    Id,
    ExamId,
    SittingId,
    RoomId,
    UserId,
    Number,
    Seat,
    ExtraMinutes,
    AdmittedLate,
    CheckedInAt,
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    Id,
    SittingId,
    CandidateId,
    UserId,
    RoomId,
    PaperId,
    Code,
    Number,
    State,
    StartedAt,
    Deadline,
    PausedAt,
    Section,
    DeviceId,
    PendingDevice,
    SubmittedAt,
    Score,
    GradedAt,
    Incidents,
    Version,
    EventCount,
    LastHash,
}

#[derive(DeriveIden)]
enum AttemptEvents {
    Table,
    AttemptId,
    Seq,
    At,
    Kind,
    Seconds,
    ActorId,
    Details,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AnswerSaves {
    Table,
    AttemptId,
    Slot,
    Seq,
    Value,
    SavedAt,
}

#[derive(DeriveIden)]
enum EssayMarks {
    Table,
    AttemptId,
    Slot,
    Round,
    GraderId,
    Points,
    Comment,
    At,
}

#[derive(DeriveIden)]
enum IncidentReports {
    Table,
    Id,
    RoomId,
    AttemptId,
    AuthorId,
    Text,
    At,
}

#[derive(DeriveIden)]
enum ItemStatistics {
    Table,
    ItemId,
    Version,
    SittingId,
    Responses,
    Facility,
    Discrimination,
    PointBiserial,
    Options,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ServiceClock {
    Table,
    Id,
    LastSeen,
}
