//! The OpenAPI document as client authors read it (`/openapi.json`, Swagger UI at `/docs/`):
//! what the handlers declare, completed with what the edge answers for every operation, so that
//! every documented response matches what is sent (schemathesis checks it in CI).
use actix_web::{HttpRequest, HttpResponse, http::Method};
use serde_json::{Value, json};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(title = "HọcThi API", description = "Province-wide learning and exams. Errors are RFC 9457 problem+json with a stable `code`; \
        their `title` follows `Accept-Language` (vi by default, en)."),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

const PROBLEM: &str = "application/problem+json";
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Completes the document: errors are `application/problem+json`; every operation documents
/// the answers the edge gives whatever the handler (400 for a malformed request or a NUL
/// character, 503 when the instance is full), 401 and 403 when it needs a session, 404 when it
/// takes an id, 413 and 422 when it takes a body. These are declared here once: a route lists
/// only its own answers (a 404 of a route without an id, a 409, a 429). An uploaded file is
/// `format: binary`, not bytes.
pub fn finish(api: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(&api).expect("the document serialises");
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method) {
                    complete(path, op);
                }
            }
        }
    }
    doc
}

fn complete(path: &str, op: &mut Value) {
    let secured = op.get("security").is_some();
    let has_body = op.get("requestBody").is_some();
    let takes_query = op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    if let Some(content) = op
        .pointer_mut("/requestBody/content")
        .and_then(Value::as_object_mut)
    {
        for (media, body) in content.iter_mut() {
            let bytes =
                body["schema"]["type"] == "array" && body["schema"]["items"]["type"] == "integer";
            if bytes && !media.contains("json") {
                body["schema"] = json!({ "type": "string", "format": "binary" });
            }
        }
    }
    let responses = op["responses"]
        .as_object_mut()
        .expect("every operation has responses");
    for response in responses.values_mut() {
        let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
            continue;
        };
        let is_problem = content.get("application/json").is_some_and(|c| {
            c["schema"]["$ref"]
                .as_str()
                .is_some_and(|r| r.ends_with("/Problem"))
        });
        if is_problem && let Some(body) = content.remove("application/json") {
            content.insert(PROBLEM.into(), body);
        }
    }
    let mut add = |status: &str, description: &str| {
        responses.entry(status).or_insert_with(|| {
            json!({
                "description": description,
                "content": { PROBLEM: { "schema": { "$ref": "#/components/schemas/Problem" } } }
            })
        });
    };
    add(
        "400",
        "a malformed request: JSON, query or path, a NUL character, an array for an object",
    );
    add(
        "503",
        "this instance is serving all it can: retry after `Retry-After`",
    );
    if secured {
        add("401", "no valid session");
        add(
            "403",
            "the caller's role, school or part in the object does not allow it",
        );
    }
    if path.contains('{') {
        add("404", "no such object, or not one the caller may see");
    }
    if has_body {
        add("413", "the body is larger than allowed");
    }
    if has_body || takes_query {
        add("422", "a value is not valid: `errors` names each field");
    }
}

/// The documented paths and their methods, to tell a wrong method (405) from a wrong path (404).
pub struct Routes(Vec<(Vec<String>, Vec<Method>)>);

impl Routes {
    pub fn of(doc: &Value) -> Self {
        let mut routes = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                let segments = path.split('/').map(str::to_owned).collect();
                let methods = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .filter_map(|m| Method::from_bytes(m.to_uppercase().as_bytes()).ok())
                    .collect();
                routes.push((segments, methods));
            }
        }
        Self(routes)
    }

    /// The methods a documented path takes, if `path` is one.
    fn allowed(&self, path: &str) -> Option<Vec<Method>> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut allowed: Vec<Method> = Vec::new();
        for (template, methods) in &self.0 {
            let fits = template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()));
            if fits {
                allowed.extend(methods.iter().cloned());
            }
        }
        (!allowed.is_empty()).then_some(allowed)
    }

    /// What the router answers when no route took the request.
    pub fn refuse(&self, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
        let Some(allowed) = self.allowed(req.path()) else {
            return Err(ApiError::NotFound("route_not_found"));
        };
        let mut response = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
        let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        if let Ok(value) = names.join(", ").parse() {
            response
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_path_with_another_method_is_405_and_an_unknown_path_404() {
        let mut doc = ApiDoc::openapi();
        let path = utoipa::openapi::path::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::Operation::new(),
        );
        doc.paths
            .paths
            .insert("/api/v1/schools/{school_id}".into(), path);
        let routes = Routes::of(&finish(doc));
        assert_eq!(
            routes.allowed("/api/v1/schools/abc"),
            Some(vec![Method::GET])
        );
        assert_eq!(routes.allowed("/api/v1/schools/abc/x"), None);
        assert_eq!(routes.allowed("/api/v1/schools/"), None);
    }
}
