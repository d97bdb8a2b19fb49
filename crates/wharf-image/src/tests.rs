use super::*;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const D3: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

fn manifest(config_type: &str, layer_types: &[&str]) -> ImageManifest {
    let layers: Vec<String> = layer_types
        .iter()
        .map(|t| format!(r#"{{"mediaType":"{t}","digest":"{D2}","size":10}}"#))
        .collect();
    let json = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"{config_type}","digest":"{D1}","size":2}},
            "layers":[{}]}}"#,
        layers.join(",")
    );
    match parse_document(json.as_bytes()).unwrap() {
        Document::Manifest(m) => *m,
        other => panic!("parsed as {other:?}"),
    }
}

fn config(os: &str, arch: &str, run: &str) -> Vec<u8> {
    format!(
        r#"{{"architecture":"{arch}","os":"{os}","config":{run},
            "rootfs":{{"type":"layers","diff_ids":["{D3}"]}}}}"#
    )
    .into_bytes()
}

#[test]
fn the_docker_wasm_pattern_carries_entrypoint_env_and_workdir() {
    let m = manifest(
        "application/vnd.oci.image.config.v1+json",
        &["application/vnd.oci.image.layer.v1.tar+gzip"],
    );
    let run =
        r#"{"Entrypoint":["/app.wasm"],"Cmd":["--port","80"],"Env":["A=1"],"WorkingDir":"/data"}"#;
    for os in ["wasi", "wasip1", "wasip2"] {
        match classify(&m, &config(os, "wasm", run)).unwrap() {
            WasmImage::Rootfs {
                layers,
                entrypoint,
                cmd,
                env,
                workdir,
            } => {
                assert_eq!(layers.len(), 1);
                assert_eq!(entrypoint, ["/app.wasm"]);
                assert_eq!(cmd, ["--port", "80"]);
                assert_eq!(env, ["A=1"]);
                assert_eq!(workdir.as_deref(), Some("/data"));
            }
            other => panic!("{os}: {other:?}"),
        }
    }
}

#[test]
fn the_cncf_artifact_and_runwasi_layers_are_single_wasm_layers() {
    let artifact = manifest(media_types::WASM_CONFIG, &[media_types::WASM_LAYER]);
    let cfg = br#"{"architecture":"wasm","os":"wasip2","layerDigests":[]}"#;
    assert!(matches!(
        classify(&artifact, cfg).unwrap(),
        WasmImage::WasmLayer { .. }
    ));

    let runwasi = manifest(
        "application/vnd.oci.image.config.v1+json",
        &[media_types::RUNWASI_LAYER],
    );
    let image = classify(&runwasi, &config("wasip1", "wasm", "{}")).unwrap();
    assert!(matches!(image, WasmImage::WasmLayer { .. }));

    let two = manifest(
        media_types::WASM_CONFIG,
        &[media_types::WASM_LAYER, media_types::WASM_LAYER],
    );
    assert_eq!(
        classify(&two, cfg).unwrap_err(),
        FormatError::ArtifactLayers(2)
    );
}

#[test]
fn a_linux_image_is_refused_with_its_platform() {
    let m = manifest(
        "application/vnd.oci.image.config.v1+json",
        &["application/vnd.oci.image.layer.v1.tar"],
    );
    let err = classify(&m, &config("linux", "amd64", "{}")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "this is a linux/amd64 image; wharf runs WebAssembly images (os wasi, wasip1 or wasip2, architecture wasm)"
    );
}

fn index(platforms: &[(&str, &str)]) -> ImageIndex {
    let entries: Vec<String> = platforms
        .iter()
        .enumerate()
        .map(|(i, (os, arch))| {
            let digest = format!("sha256:{}", format!("{i}").repeat(64));
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":5,
                    "platform":{{"os":"{os}","architecture":"{arch}"}}}}"#
            )
        })
        .collect();
    // No mediaType: recognised by its manifests list, as some registries serve it.
    let json = format!(
        r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
        entries.join(",")
    );
    match parse_document(json.as_bytes()).unwrap() {
        Document::Index(i) => *i,
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn an_index_yields_its_wasm_manifest() {
    let i = index(&[("linux", "amd64"), ("wasip1", "wasm"), ("wasip2", "wasm")]);
    assert_eq!(
        pick_wasm_manifest(&i).unwrap().digest().to_string(),
        format!("sha256:{}", "2".repeat(64))
    );
    let i = index(&[("linux", "amd64"), ("wasi", "wasm")]);
    assert_eq!(
        pick_wasm_manifest(&i).unwrap().digest().to_string(),
        format!("sha256:{}", "1".repeat(64))
    );
}

#[test]
fn an_index_without_wasm_names_what_it_has() {
    let i = index(&[("linux", "amd64"), ("linux", "arm64")]);
    let err = pick_wasm_manifest(&i).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("this is a linux/amd64, linux/arm64 image"),
        "{err}"
    );
}

#[test]
fn malformed_and_oversized_documents_are_refused() {
    assert!(matches!(
        parse_document(b"{ nope"),
        Err(FormatError::Malformed { .. })
    ));
    assert!(matches!(
        parse_document(br#"{"schemaVersion":2}"#),
        Err(FormatError::Malformed { .. })
    ));
    let huge = vec![b' '; MAX_DOCUMENT_SIZE + 1];
    assert!(matches!(
        parse_document(&huge),
        Err(FormatError::TooLarge { .. })
    ));
    let m = manifest("application/vnd.oci.image.config.v1+json", &[]);
    assert!(matches!(
        classify(&m, b"[]"),
        Err(FormatError::Malformed { .. })
    ));
}
