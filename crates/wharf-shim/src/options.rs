//! The runtime's options, from containerd's config (`[...runtimes.wharf.options]`). They
//! arrive as a `runtimeoptions.v1.Options` message in every CreateTaskRequest: containerd 1.6
//! sends only `TypeUrl` and `ConfigPath` (a file the shim reads), newer ones the table itself
//! as `config_body`. wharf reads both; the config is TOML:
//!
//! ```toml
//! root = "/var/lib/wharf"   # wharf's root: the compiled-code cache
//! ```

use std::path::PathBuf;

use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::CodedInputStream;
use serde::Deserialize;
use wharf_core::Error;

/// What the shim can be configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShimConfig {
    /// wharf's root directory (default: `$WHARF_ROOT`, else wharf's default).
    pub root: Option<PathBuf>,
}

/// The config the options name: `config_body` when given, else the file at `config_path`,
/// else the defaults.
pub fn config(options: Option<&Any>) -> Result<ShimConfig, Error> {
    let Some(options) = options.filter(|o| !o.value.is_empty()) else {
        return Ok(ShimConfig::default());
    };
    let (path, body) = decode(&options.value).map_err(|e| {
        Error::InvalidArgument(format!(
            "the runtime options ({}) do not decode: {e}",
            options.type_url
        ))
    })?;
    let (text, whence) = match (body, path) {
        (Some(body), _) => (body, "config_body".to_string()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::InvalidArgument(format!("the runtime's ConfigPath {path}: {e}"))
            })?;
            (text, path)
        }
        (None, None) => return Ok(ShimConfig::default()),
    };
    toml::from_str(&text)
        .map_err(|e| Error::InvalidArgument(format!("wharf's shim config ({whence}): {e}")))
}

/// `config_path` (field 2) and `config_body` (field 3) of a `runtimeoptions.v1.Options`.
fn decode(bytes: &[u8]) -> Result<(Option<String>, Option<String>), String> {
    let mut input = CodedInputStream::from_bytes(bytes);
    let (mut path, mut body) = (None, None);
    while let Some(tag) = input.read_raw_tag_or_eof().map_err(|e| e.to_string())? {
        match tag {
            18 => path = Some(input.read_string().map_err(|e| e.to_string())?),
            26 => body = Some(input.read_string().map_err(|e| e.to_string())?),
            _ => input
                .skip_field(
                    containerd_shim::protos::protobuf::rt::WireType::new(tag & 7)
                        .ok_or("bad wire type")?,
                )
                .map_err(|e| e.to_string())?,
        }
    }
    Ok((
        path.filter(|p| !p.is_empty()),
        body.filter(|b| !b.is_empty()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field.
    fn field(number: u8, text: &str) -> Vec<u8> {
        let mut out = vec![number << 3 | 2, text.len() as u8];
        out.extend_from_slice(text.as_bytes());
        out
    }

    fn options(value: Vec<u8>) -> Any {
        Any {
            type_url: "runtimeoptions.v1.Options".into(),
            value,
            ..Default::default()
        }
    }

    #[test]
    fn config_comes_from_the_body_or_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("shim.toml");
        std::fs::write(&file, "root = \"/from/file\"\n").unwrap();
        let by_path = [
            field(1, "wharf.shim.v1.Config"),
            field(2, file.to_str().unwrap()),
        ]
        .concat();
        assert_eq!(
            config(Some(&options(by_path))).unwrap().root,
            Some(PathBuf::from("/from/file"))
        );
        let by_body = [field(2, "/nowhere"), field(3, "root = \"/from/body\"")].concat();
        assert_eq!(
            config(Some(&options(by_body))).unwrap().root,
            Some(PathBuf::from("/from/body"))
        );
        // containerd 1.6 with other keys only: an empty message.
        assert_eq!(
            config(Some(&options(Vec::new()))).unwrap(),
            ShimConfig::default()
        );
        assert_eq!(config(None).unwrap(), ShimConfig::default());
        let unknown = config(Some(&options(field(3, "colour = \"red\"")))).unwrap_err();
        assert!(unknown.to_string().contains("colour"), "{unknown}");
        let missing = config(Some(&options(field(2, "/no/such.toml")))).unwrap_err();
        assert!(missing.to_string().contains("/no/such.toml"), "{missing}");
    }
}
