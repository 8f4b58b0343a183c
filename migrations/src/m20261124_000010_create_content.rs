use sea_orm_migration::{prelude::*, schema::*};

/// The shared digital-content repository: stored files (one per distinct content), uploads in
/// flight, content items with their versions and reviews, bookmarks and ratings.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ContentFiles::Table)
                    .col(pk_uuid(ContentFiles::Id))
                    .col(string(ContentFiles::Sha256).unique_key())
                    .col(big_integer(ContentFiles::Size))
                    .col(string(ContentFiles::Mime))
                    .col(string(ContentFiles::BlobKey))
                    // What an archive's manifest says (SCORM, H5P): title, launch file.
                    .col(text(ContentFiles::Details))
                    .col(uuid(ContentFiles::CreatedBy))
                    .col(uuid_null(ContentFiles::SchoolId))
                    .col(timestamp_with_time_zone(ContentFiles::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ContentUploads::Table)
                    .col(pk_uuid(ContentUploads::Id))
                    .col(uuid(ContentUploads::OwnerId))
                    .col(uuid_null(ContentUploads::SchoolId))
                    .col(string(ContentUploads::FileName))
                    .col(big_integer(ContentUploads::Size))
                    .col(string(ContentUploads::Mime))
                    .col(string(ContentUploads::Sha256))
                    .col(string(ContentUploads::BlobKey))
                    .col(string_null(ContentUploads::MultipartId))
                    .col(integer(ContentUploads::Parts).default(0))
                    // pending, completed, failed, abandoned
                    .col(string(ContentUploads::State))
                    .col(uuid_null(ContentUploads::FileId))
                    .col(timestamp_with_time_zone(ContentUploads::CreatedAt))
                    .col(timestamp_with_time_zone(ContentUploads::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_content_uploads_state")
                    .table(ContentUploads::Table)
                    .col(ContentUploads::State)
                    .col(ContentUploads::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ContentItems::Table)
                    .col(pk_uuid(ContentItems::Id))
                    .col(string(ContentItems::Kind))
                    .col(uuid(ContentItems::AuthorId))
                    .col(uuid_null(ContentItems::SchoolId))
                    .col(uuid_null(ContentItems::ClassId))
                    // private, class, school, province
                    .col(string(ContentItems::Scope))
                    // none, submitted, approved, returned, taken_down (province publishing)
                    .col(string(ContentItems::Review))
                    .col(integer(ContentItems::LatestVersion))
                    .col(integer_null(ContentItems::PublishedVersion))
                    // The published version's metadata, for browsing and search.
                    .col(string(ContentItems::Title))
                    .col(string(ContentItems::Subject))
                    .col(small_integer(ContentItems::Grade))
                    .col(string_null(ContentItems::Series))
                    .col(string(ContentItems::Topic))
                    .col(string(ContentItems::Tags))
                    .col(string(ContentItems::Language))
                    .col(string(ContentItems::Licence))
                    .col(text(ContentItems::SearchText))
                    .col(big_integer(ContentItems::Views).default(0))
                    .col(big_integer(ContentItems::Downloads).default(0))
                    .col(integer(ContentItems::RatingSum).default(0))
                    .col(integer(ContentItems::RatingCount).default(0))
                    .col(timestamp_with_time_zone(ContentItems::CreatedAt))
                    .col(timestamp_with_time_zone(ContentItems::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_content_items_browse",
                vec![
                    ContentItems::Scope,
                    ContentItems::Subject,
                    ContentItems::Grade,
                ],
            ),
            ("idx_content_items_school", vec![ContentItems::SchoolId]),
            ("idx_content_items_author", vec![ContentItems::AuthorId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(ContentItems::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ContentVersions::Table)
                    .col(uuid(ContentVersions::ItemId))
                    .col(integer(ContentVersions::Version))
                    .col(text(ContentVersions::Body))
                    .col(uuid(ContentVersions::CreatedBy))
                    .col(timestamp_with_time_zone(ContentVersions::CreatedAt))
                    // draft, submitted, approved, returned
                    .col(string(ContentVersions::Status))
                    .col(text_null(ContentVersions::ReviewComment))
                    .col(uuid_null(ContentVersions::ReviewerId))
                    .primary_key(
                        Index::create()
                            .col(ContentVersions::ItemId)
                            .col(ContentVersions::Version),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ContentMarks::Table)
                    .col(uuid(ContentMarks::ItemId))
                    .col(uuid(ContentMarks::UserId))
                    .col(boolean(ContentMarks::Bookmarked).default(false))
                    .col(small_integer_null(ContentMarks::Rating))
                    .primary_key(
                        Index::create()
                            .col(ContentMarks::ItemId)
                            .col(ContentMarks::UserId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ContentMarks::Table.into_iden(),
            ContentVersions::Table.into_iden(),
            ContentItems::Table.into_iden(),
            ContentUploads::Table.into_iden(),
            ContentFiles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ContentFiles {
    Table,
    Id,
    Sha256,
    Size,
    Mime,
    BlobKey,
    Details,
    CreatedBy,
    SchoolId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ContentUploads {
    Table,
    Id,
    OwnerId,
    SchoolId,
    FileName,
    Size,
    Mime,
    Sha256,
    BlobKey,
    MultipartId,
    Parts,
    State,
    FileId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ContentItems {
    Table,
    Id,
    Kind,
    AuthorId,
    SchoolId,
    ClassId,
    Scope,
    Review,
    LatestVersion,
    PublishedVersion,
    Title,
    Subject,
    Grade,
    Series,
    Topic,
    Tags,
    Language,
    Licence,
    SearchText,
    Views,
    Downloads,
    RatingSum,
    RatingCount,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ContentVersions {
    Table,
    ItemId,
    Version,
    Body,
    CreatedBy,
    CreatedAt,
    Status,
    ReviewComment,
    ReviewerId,
}

#[derive(DeriveIden)]
enum ContentMarks {
    Table,
    ItemId,
    UserId,
    Bookmarked,
    Rating,
}
