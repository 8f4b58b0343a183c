use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Items::Table)
                    .col(pk_uuid(Items::Id))
                    .col(uuid(Items::AuthorId))
                    .col(uuid_null(Items::SchoolId))
                    .col(string(Items::Subject))
                    // private | school | province: who may reuse the approved version.
                    .col(string(Items::Scope))
                    .col(integer(Items::LatestVersion))
                    .col(integer_null(Items::ApprovedVersion))
                    .col(boolean(Items::Retired).default(false))
                    .col(integer(Items::TimesUsed).default(0))
                    .col(timestamp_with_time_zone(Items::CreatedAt))
                    .col(timestamp_with_time_zone(Items::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ItemVersions::Table)
                    .col(pk_uuid(ItemVersions::Id))
                    .col(uuid(ItemVersions::ItemId))
                    .col(integer(ItemVersions::Version))
                    // draft | submitted | approved | returned
                    .col(string(ItemVersions::Status))
                    // The author's newest version, and the approved one others reuse.
                    .col(boolean(ItemVersions::Latest))
                    .col(boolean(ItemVersions::Published))
                    .col(string(ItemVersions::Kind))
                    // The item's content as JSON text (stem, options, key, rubric, solution).
                    .col(text(ItemVersions::Body))
                    .col(small_integer(ItemVersions::Grade))
                    .col(string_null(ItemVersions::Series))
                    .col(string(ItemVersions::Topic))
                    .col(string(ItemVersions::TopicFolded))
                    .col(string(ItemVersions::Level))
                    .col(string_null(ItemVersions::Competency))
                    .col(string(ItemVersions::Tags))
                    .col(string_null(ItemVersions::Source))
                    .col(text(ItemVersions::SearchText))
                    .col(uuid(ItemVersions::CreatedBy))
                    .col(timestamp_with_time_zone(ItemVersions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_item_versions_item")
                            .from(ItemVersions::Table, ItemVersions::ItemId)
                            .to(Items::Table, Items::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_item_versions_item_version")
                    .table(ItemVersions::Table)
                    .col(ItemVersions::ItemId)
                    .col(ItemVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_items_subject_scope")
                    .table(Items::Table)
                    .col(Items::Subject)
                    .col(Items::Scope)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ItemReviews::Table)
                    .col(pk_uuid(ItemReviews::Id))
                    .col(uuid(ItemReviews::ItemId))
                    .col(integer(ItemReviews::Version))
                    .col(uuid(ItemReviews::ReviewerId))
                    .col(string(ItemReviews::Decision))
                    .col(text_null(ItemReviews::Comment))
                    .col(timestamp_with_time_zone(ItemReviews::At))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_item_reviews_item")
                            .from(ItemReviews::Table, ItemReviews::ItemId)
                            .to(Items::Table, Items::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ItemReviews::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ItemVersions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Items::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Items {
    Table,
    Id,
    AuthorId,
    SchoolId,
    Subject,
    Scope,
    LatestVersion,
    ApprovedVersion,
    Retired,
    TimesUsed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ItemVersions {
    Table,
    Id,
    ItemId,
    Version,
    Status,
    Latest,
    Published,
    Kind,
    Body,
    Grade,
    Series,
    Topic,
    TopicFolded,
    Level,
    Competency,
    Tags,
    Source,
    SearchText,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ItemReviews {
    Table,
    Id,
    ItemId,
    Version,
    ReviewerId,
    Decision,
    Comment,
    At,
}
