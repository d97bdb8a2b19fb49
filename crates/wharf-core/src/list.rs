//! Which containers a list shows: Docker's `all` flag and filters, with Docker's meaning.
//!
//! Values given for one key are OR'd (but every `label` must match, as in Docker), keys are
//! AND'd; an unknown key or a malformed value is
//! an error, never an empty list. A `status` filter lists stopped containers without `all`.

use std::collections::BTreeMap;

use wharf_containers::{Container, Status, Target};

use crate::{Error, Wharf};

/// The filter keys wharf understands (Docker's, less those about Swarm, health and isolation).
const KEYS: &[&str] = &[
    "id", "name", "label", "status", "exited", "ancestor", "before", "since", "publish", "expose",
    "network", "volume",
];

/// Docker's container states a `status` filter may name.
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// A container list request: `docker ps [-a] [--filter KEY=VALUE]...` or
/// `GET /containers/json?all=&filters=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerQuery {
    /// Stopped containers too.
    pub all: bool,
    /// Filter key to the values asked for.
    pub filters: BTreeMap<String, Vec<String>>,
    /// Only the N most recently created (`ps -n N`, `-l`, `?limit=`, `?latest=`), in every
    /// state.
    pub last: Option<usize>,
}

impl ContainerQuery {
    /// A query from `KEY=VALUE` strings, as the CLI's `--filter` gives them.
    pub fn from_pairs(all: bool, pairs: &[String]) -> Result<ContainerQuery, Error> {
        let filters = filters_from_pairs(pairs)?;
        let query = ContainerQuery {
            all,
            filters,
            last: None,
        };
        query.validate()?;
        Ok(query)
    }

    /// Checks every key and the values that have a fixed form.
    pub fn validate(&self) -> Result<(), Error> {
        for (key, values) in &self.filters {
            if !KEYS.contains(&key.as_str()) {
                return Err(Error::InvalidArgument(format!("invalid filter '{key}'")));
            }
            for value in values {
                let bad = match key.as_str() {
                    "status" => !STATUSES.contains(&value.as_str()),
                    "exited" => value.parse::<i32>().is_err(),
                    "publish" | "expose" => port_range(value).is_none(),
                    _ => false,
                };
                if bad {
                    return Err(Error::InvalidArgument(format!(
                        "invalid filter '{key}={value}'"
                    )));
                }
            }
        }
        Ok(())
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.filters.get(key).map(Vec::as_slice)
    }
}

/// Docker's `--filter KEY=VALUE` strings as a key-to-values map (the API's `filters` form).
pub(crate) fn filters_from_pairs(pairs: &[String]) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            Error::InvalidArgument(format!(
                "bad format of filter (expected name=value): {pair}"
            ))
        })?;
        filters
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }
    Ok(filters)
}

/// `8080`, `8080/tcp` or `8000-8090[/tcp]` as an inclusive range of TCP ports.
fn port_range(text: &str) -> Option<(u16, u16)> {
    let (ports, proto) = text.split_once('/').unwrap_or((text, "tcp"));
    if proto != "tcp" && proto != "udp" {
        return None;
    }
    let (low, high) = ports.split_once('-').unwrap_or((ports, ports));
    let (low, high) = (low.parse().ok()?, high.parse().ok()?);
    (low <= high).then_some((low, high))
}

/// What the filters compare containers with, resolved once per list.
struct Context<'a> {
    /// The manifest digests the `ancestor` values name (images in the store).
    ancestors: Vec<String>,
    /// Creation times of the containers `before` and `since` name.
    before: Option<String>,
    since: Option<String>,
    query: &'a ContainerQuery,
}

impl Context<'_> {
    fn matches(&self, c: &Container) -> bool {
        let q = self.query;
        let any = |key: &str, test: &dyn Fn(&str) -> bool| {
            q.values(key)
                .is_none_or(|values| values.iter().any(|v| test(v)))
        };
        // Labels are Docker's exception: every one given must match (compose finds a
        // project's services by project, service and oneoff labels together).
        let every = |key: &str, test: &dyn Fn(&str) -> bool| {
            q.values(key)
                .is_none_or(|values| values.iter().all(|v| test(v)))
        };
        let status = c.state.status.name();
        any("id", &|v| c.config.id.starts_with(v))
            && any("name", &|v| name_matches(&c.config.name, v))
            && every("label", &|v| match v.split_once('=') {
                Some((k, want)) => c.config.labels.get(k).is_some_and(|have| have == want),
                None => c.config.labels.contains_key(v),
            })
            && any("status", &|v| v == status)
            && any("exited", &|v| {
                c.state.status == Status::Exited
                    && v.parse::<i32>().ok() == Some(c.state.exit_code.unwrap_or(0))
            })
            && any("ancestor", &|v| match &c.config.target {
                Target::Image { reference, digest } => {
                    reference == v || self.ancestors.contains(digest)
                }
                Target::File { path } => path == v,
            })
            && any("publish", &|v| {
                port_range(v).is_some_and(|(lo, hi)| {
                    c.config
                        .ports
                        .iter()
                        .any(|p| (lo..=hi).contains(&p.host_port))
                })
            })
            && any("expose", &|v| {
                port_range(v).is_some_and(|(lo, hi)| {
                    c.config
                        .ports
                        .iter()
                        .any(|p| (lo..=hi).contains(&p.guest_port))
                })
            })
            && any("network", &|v| c.config.network == v)
            && any("volume", &|v| {
                c.config.mounts.iter().any(|m| m.guest == v || m.host == v)
            })
            && self.before.as_ref().is_none_or(|t| c.config.created < *t)
            && self.since.as_ref().is_none_or(|t| c.config.created > *t)
    }
}

/// Docker's name filter is a regular expression on the name; wharf takes the common forms:
/// a substring, anchored with `^` and/or `$`.
fn name_matches(name: &str, pattern: &str) -> bool {
    let pattern = pattern.trim_start_matches('/');
    match (pattern.strip_prefix('^'), pattern.strip_suffix('$')) {
        (Some(rest), _) if rest.ends_with('$') => name == &rest[..rest.len() - 1],
        (Some(rest), None) => name.starts_with(rest),
        (None, Some(rest)) => name.ends_with(rest),
        _ => name.contains(pattern),
    }
}

impl Wharf {
    /// The containers `query` asks for, oldest first, reconciled; the notes say what was fixed.
    pub fn query_containers(
        &self,
        query: &ContainerQuery,
    ) -> Result<(Vec<Container>, Vec<wharf_containers::Reconciled>), Error> {
        query.validate()?;
        let (all, notes) = self.list_containers(true)?;
        let created_of = |key: &str| -> Result<Option<String>, Error> {
            let Some(name) = query.values(key).and_then(|v| v.first()) else {
                return Ok(None);
            };
            let (c, _) = self.container(name)?;
            Ok(Some(c.config.created))
        };
        let context = Context {
            ancestors: query
                .values("ancestor")
                .unwrap_or_default()
                .iter()
                .filter_map(|v| self.image_digest(v))
                .collect(),
            before: created_of("before")?,
            since: created_of("since")?,
            query,
        };
        let stopped_too = query.all || query.last.is_some() || query.filters.contains_key("status");
        let mut shown: Vec<Container> = all
            .into_iter()
            .filter(|c| stopped_too || c.state.status.is_live())
            .filter(|c| context.matches(c))
            .collect();
        // Docker lists the newest first.
        shown.sort_by(|a, b| b.config.created.cmp(&a.config.created));
        if let Some(n) = query.last {
            shown.truncate(n);
        }
        Ok((shown, notes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_malformed_values_are_errors() {
        for pairs in [
            &["colour=red"][..],
            &["status=sleeping"][..],
            &["exited=zero"][..],
            &["publish=http"][..],
            &["nokey"][..],
        ] {
            let pairs: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
            let err = ContainerQuery::from_pairs(false, &pairs).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{pairs:?}");
        }
        let ok: Vec<String> = ["status=exited", "status=running", "publish=8000-8090/tcp"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let query = ContainerQuery::from_pairs(false, &ok).unwrap();
        assert_eq!(query.filters["status"].len(), 2);
    }

    #[test]
    fn names_match_as_docker_s_common_patterns() {
        assert!(name_matches("web-1", "web"));
        assert!(name_matches("web-1", "^web"));
        assert!(!name_matches("my-web", "^web"));
        assert!(name_matches("my-web", "web$"));
        assert!(name_matches("web", "^web$"));
        assert!(!name_matches("web-1", "^web$"));
        assert!(name_matches("web", "/web"));
    }
}
