//! Queries for schools, classes and users.
use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::NewUser;
use crate::{
    auth::roles::{self, Role},
    entities::{class, school, user},
};

pub async fn insert_school(
    db: &impl ConnectionTrait,
    code: &str,
    name: &str,
    level: &str,
) -> Result<school::Model, DbErr> {
    let model = school::Model {
        id: Uuid::now_v7(),
        code: code.to_owned(),
        name: name.to_owned(),
        name_folded: crate::text::fold(name),
        level: level.to_owned(),
        created_at: Utc::now(),
    };
    school::Entity::insert(school::ActiveModel {
        id: Set(model.id),
        code: Set(model.code.clone()),
        name: Set(model.name.clone()),
        name_folded: Set(model.name_folded.clone()),
        level: Set(model.level.clone()),
        created_at: Set(model.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(model)
}

pub async fn find_school(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<school::Model>, DbErr> {
    school::Entity::find_by_id(id).one(db).await
}

pub async fn find_school_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<school::Model>, DbErr> {
    school::Entity::find()
        .filter(school::Column::Code.eq(code))
        .one(db)
        .await
}

pub async fn list_schools(
    db: &impl ConnectionTrait,
    only: Option<Uuid>,
    name_query: Option<&str>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<school::Model>, DbErr> {
    let mut select = school::Entity::find()
        .order_by_asc(school::Column::Id)
        .limit(limit);
    if let Some(id) = only {
        select = select.filter(school::Column::Id.eq(id));
    }
    if let Some(q) = name_query {
        select = select.filter(school::Column::NameFolded.contains(crate::text::fold(q)));
    }
    if let Some(after) = after {
        select = select.filter(school::Column::Id.gt(after));
    }
    select.all(db).await
}

pub async fn insert_class(
    db: &impl ConnectionTrait,
    school_id: Uuid,
    name: &str,
    grade: i16,
    school_year: &str,
) -> Result<class::Model, DbErr> {
    let model = class::Model {
        id: Uuid::now_v7(),
        school_id,
        name: name.to_owned(),
        grade,
        school_year: school_year.to_owned(),
        created_at: Utc::now(),
    };
    class::Entity::insert(class::ActiveModel {
        id: Set(model.id),
        school_id: Set(school_id),
        name: Set(model.name.clone()),
        grade: Set(grade),
        school_year: Set(model.school_year.clone()),
        created_at: Set(model.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(model)
}

pub async fn find_class_by_name(
    db: &impl ConnectionTrait,
    school_id: Uuid,
    school_year: &str,
    name: &str,
) -> Result<Option<class::Model>, DbErr> {
    class::Entity::find()
        .filter(class::Column::SchoolId.eq(school_id))
        .filter(class::Column::SchoolYear.eq(school_year))
        .filter(class::Column::Name.eq(name))
        .one(db)
        .await
}

pub async fn list_classes(
    db: &impl ConnectionTrait,
    school_id: Uuid,
) -> Result<Vec<class::Model>, DbErr> {
    class::Entity::find()
        .filter(class::Column::SchoolId.eq(school_id))
        .order_by_desc(class::Column::SchoolYear)
        .order_by_asc(class::Column::Name)
        .all(db)
        .await
}

pub async fn find_class(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<class::Model>, DbErr> {
    class::Entity::find_by_id(id).one(db).await
}

pub async fn login_exists(db: &impl ConnectionTrait, login: &str) -> Result<bool, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Login.eq(login))
        .count(db)
        .await?
        > 0)
}

pub async fn count_users(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    user::Entity::find().count(db).await
}

pub async fn insert_user(
    db: &impl ConnectionTrait,
    new: &NewUser,
    password_hash: String,
) -> Result<user::Model, DbErr> {
    let now = Utc::now();
    let model = user::Model {
        id: Uuid::now_v7(),
        login: new.login.clone(),
        email: new.email.clone(),
        full_name: new.full_name.clone(),
        full_name_folded: crate::text::fold(&new.full_name),
        password_hash,
        roles: roles::to_db(&new.roles),
        school_id: new.school_id,
        class_id: new.class_id,
        birth_date: new.birth_date,
        subjects: super::subjects_to_db(&new.subjects),
        disabled: false,
        password_changed_at: now,
        created_at: now,
    };
    user::Entity::insert(user::ActiveModel {
        id: Set(model.id),
        login: Set(model.login.clone()),
        email: Set(model.email.clone()),
        full_name: Set(model.full_name.clone()),
        full_name_folded: Set(model.full_name_folded.clone()),
        password_hash: Set(model.password_hash.clone()),
        roles: Set(model.roles.clone()),
        school_id: Set(model.school_id),
        class_id: Set(model.class_id),
        birth_date: Set(model.birth_date),
        subjects: Set(model.subjects.clone()),
        disabled: Set(false),
        password_changed_at: Set(now),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(model)
}

pub struct UserFilter<'a> {
    pub school_id: Option<Uuid>,
    pub class_id: Option<Uuid>,
    pub role: Option<Role>,
    /// Part of a name, matched without diacritics or case.
    pub name: Option<&'a str>,
    pub after: Option<Uuid>,
    pub limit: u64,
}

pub async fn list_users(
    db: &impl ConnectionTrait,
    filter: UserFilter<'_>,
) -> Result<Vec<user::Model>, DbErr> {
    let mut condition = Condition::all();
    if let Some(id) = filter.school_id {
        condition = condition.add(user::Column::SchoolId.eq(id));
    }
    if let Some(id) = filter.class_id {
        condition = condition.add(user::Column::ClassId.eq(id));
    }
    if let Some(role) = filter.role {
        condition = condition.add(user::Column::Roles.like(roles::db_pattern(role)));
    }
    if let Some(name) = filter.name {
        condition = condition.add(user::Column::FullNameFolded.contains(crate::text::fold(name)));
    }
    if let Some(after) = filter.after {
        condition = condition.add(user::Column::Id.gt(after));
    }
    user::Entity::find()
        .filter(condition)
        .order_by_asc(user::Column::Id)
        .limit(filter.limit)
        .all(db)
        .await
}
