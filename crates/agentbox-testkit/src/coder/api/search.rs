//! Workspace search queries (`owner:me name:"x" template:t status:running`), as coderd's
//! `GET /workspaces?q=` reads them: a bare word is a name; `name` matches part of a name.

use axum::http::StatusCode;

use crate::coder::error::ApiError;
use crate::coder::store::{Store, WorkspaceRec};

/// The terms of a workspace search query (`owner:me name:"x" template:t status:running`).
pub(crate) fn terms(q: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut tokens = Vec::new();
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    let mut invalid = ApiError::new(StatusCode::BAD_REQUEST, "Invalid workspace search query.");
    for token in tokens {
        let (key, value) = token
            .split_once(':')
            .map_or(("name".to_owned(), token.clone()), |(k, v)| {
                (k.to_ascii_lowercase(), v.to_owned())
            });
        if matches!(key.as_str(), "owner" | "name" | "template" | "status") {
            terms.push((key, value));
        } else {
            invalid = invalid.validation(
                key.clone(),
                format!("Query param {key:?} is not a valid query param"),
            );
        }
    }
    if invalid.validations.is_empty() {
        Ok(terms)
    } else {
        Err(invalid)
    }
}

pub(crate) fn matches(store: &Store, w: &WorkspaceRec, terms: &[(String, String)]) -> bool {
    terms.iter().all(|(key, value)| match key.as_str() {
        "owner" => value == "me" || value.eq_ignore_ascii_case(&store.user.username),
        "name" => w.name.to_lowercase().contains(&value.to_lowercase()),
        "template" => store
            .template(w.template_id)
            .is_some_and(|t| t.spec.name.eq_ignore_ascii_case(value)),
        "status" => store.latest(w).is_some_and(|b| b.status() == value),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_accept_quotes_and_bare_names_and_refuse_unknown_keys() {
        let found = terms("owner:\"me\" ws-1 template:agentbox").unwrap();
        assert_eq!(
            found,
            [
                ("owner".to_owned(), "me".to_owned()),
                ("name".to_owned(), "ws-1".to_owned()),
                ("template".to_owned(), "agentbox".to_owned())
            ]
        );
        let err = terms("colour:blue").unwrap_err();
        assert_eq!(err.validations[0].field, "colour");
    }
}
