//! Which images a list shows: `docker images [REPOSITORY[:TAG]] [--filter KEY=VALUE]` and
//! `GET /images/json?filters=`, with Docker's meaning. Values of one key are OR'd (every
//! `label` must match), keys AND'd; an unknown key is an error.

use std::collections::BTreeMap;

use crate::docker::api::ImageSummary;
use crate::{Error, Wharf};

/// The filter keys wharf understands.
const KEYS: &[&str] = &["dangling", "reference", "label", "before", "since"];

/// An image list request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageQuery {
    /// Filter key to the values asked for.
    pub filters: BTreeMap<String, Vec<String>>,
}

impl ImageQuery {
    /// A query from `KEY=VALUE` strings (`--filter`) and `docker images`' optional
    /// `REPOSITORY[:TAG]` argument, which is a `reference` filter.
    pub fn from_pairs(pairs: &[String], repository: Option<&str>) -> Result<ImageQuery, Error> {
        let mut filters = crate::list::filters_from_pairs(pairs)?;
        if let Some(repository) = repository {
            filters
                .entry("reference".into())
                .or_default()
                .push(repository.into());
        }
        let query = ImageQuery { filters };
        query.validate()?;
        Ok(query)
    }

    /// Checks every key and the values that have a fixed form.
    pub fn validate(&self) -> Result<(), Error> {
        for (key, values) in &self.filters {
            if !KEYS.contains(&key.as_str()) {
                return Err(Error::InvalidArgument(format!("invalid filter '{key}'")));
            }
            if key == "dangling" {
                if let Some(v) = values
                    .iter()
                    .find(|v| !["true", "false", "1", "0"].contains(&v.as_str()))
                {
                    return Err(Error::InvalidArgument(format!(
                        "invalid filter 'dangling={v}': it is true or false"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Wharf {
    /// The images `query` asks for, newest first as [`Wharf::images`] lists them. A
    /// `reference` filter keeps only the matching tags of each image.
    pub fn query_images(&self, query: &ImageQuery) -> Result<Vec<ImageSummary>, Error> {
        query.validate()?;
        let images = self.images()?;
        let created_of = |name: &str| -> Result<i64, Error> {
            let digest = self.inspect_image(name)?.inspect.id.unwrap_or_default();
            images
                .iter()
                .find(|i| i.id == digest)
                .map(|i| i.created)
                .ok_or_else(|| Error::NotFound(format!("no such image: {name}")))
        };
        let mut before = None;
        if let Some(names) = query.filters.get("before") {
            for name in names {
                let t = created_of(name)?;
                before = Some(before.map_or(t, |b: i64| b.min(t)));
            }
        }
        let mut since = None;
        if let Some(names) = query.filters.get("since") {
            for name in names {
                let t = created_of(name)?;
                since = Some(since.map_or(t, |s: i64| s.max(t)));
            }
        }
        let mut shown = Vec::new();
        for mut image in images {
            if let Some(values) = query.filters.get("dangling") {
                let want = values.iter().any(|v| v == "true" || v == "1");
                if image.repo_tags.is_empty() != want {
                    continue;
                }
            }
            if let Some(patterns) = query.filters.get("reference") {
                image
                    .repo_tags
                    .retain(|tag| patterns.iter().any(|p| reference_matches(p, tag)));
                if image.repo_tags.is_empty() {
                    continue;
                }
                // Clients show a digest of a repository without a tag as a `<none>` row: keep
                // only the digests of the repositories still shown.
                let repositories: Vec<&str> =
                    image.repo_tags.iter().map(|t| split_tag(t).0).collect();
                image.repo_digests.retain(|d| {
                    let repository = d.split_once('@').map_or(d.as_str(), |(r, _)| r);
                    repositories.contains(&repository)
                });
            }
            if let Some(labels) = query.filters.get("label") {
                let has = |label: &String| match label.split_once('=') {
                    Some((k, v)) => image.labels.get(k).is_some_and(|have| have == v),
                    None => image.labels.contains_key(label),
                };
                if !labels.iter().all(has) {
                    continue;
                }
            }
            if before.is_some_and(|b| image.created >= b)
                || since.is_some_and(|s| image.created <= s)
            {
                continue;
            }
            shown.push(image);
        }
        Ok(shown)
    }
}

/// Whether `tag` (`repo:tag`) matches `pattern` as Docker's `reference` filter: a pattern
/// without a tag is matched against the repository alone; `*` and `?` match within one path
/// component.
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let (repository, _) = split_tag(tag);
    let pattern_has_tag = split_tag(pattern).1.is_some();
    let subject = if pattern_has_tag { tag } else { repository };
    glob(pattern.as_bytes(), subject.as_bytes())
}

/// `repo:tag` split at the tag's colon (a registry's port is not a tag).
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (reference, None),
    }
}

/// Go's `path.Match` for `*` and `?`: neither matches `/`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text)
                || (text.first().is_some_and(|c| *c != b'/') && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(c)) if p == c => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_match_as_docker_s_filter() {
        assert!(reference_matches("app", "app:1"));
        assert!(reference_matches("app:1", "app:1"));
        assert!(!reference_matches("app:2", "app:1"));
        assert!(reference_matches("ap*", "app:1"));
        assert!(reference_matches("*:1", "app:1"));
        assert!(!reference_matches("*", "team/app:1"));
        assert!(reference_matches("*/app", "team/app:1"));
        assert!(reference_matches(
            "localhost:5000/app",
            "localhost:5000/app:2"
        ));
        assert!(!reference_matches("app", "apple:1"));
    }

    #[test]
    fn filters_are_checked() {
        assert!(ImageQuery::from_pairs(&["dangling=true".into()], None).is_ok());
        assert!(ImageQuery::from_pairs(&["dangling=maybe".into()], None).is_err());
        assert!(ImageQuery::from_pairs(&["colour=red".into()], None).is_err());
        let q = ImageQuery::from_pairs(&[], Some("app")).unwrap();
        assert_eq!(q.filters["reference"], ["app"]);
    }
}
