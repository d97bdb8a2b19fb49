use super::*;

fn ok(text: &str) -> Vec<Instruction> {
    parse(text, &BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"))
}

fn fails(text: &str) -> ParseError {
    parse(text, &BTreeMap::new()).unwrap_err()
}

#[test]
fn the_docker_wasm_pattern() {
    let got = ok(r#"
# syntax=docker/dockerfile:1
FROM scratch
COPY app.wasm /
ENTRYPOINT ["/app.wasm"]
CMD ["--port", "8080"]
"#);
    assert_eq!(
        got,
        vec![
            Instruction::From {
                image: "scratch".into(),
                stage: None
            },
            Instruction::Copy {
                sources: vec!["app.wasm".into()],
                dest: "/".into(),
                from: None
            },
            Instruction::Entrypoint(vec!["/app.wasm".into()]),
            Instruction::Cmd(vec!["--port".into(), "8080".into()]),
        ]
    );
}

#[test]
fn args_env_workdir_labels_and_continuations() {
    let mut args = BTreeMap::new();
    args.insert("VERSION".to_string(), "2.0".to_string());
    let got = parse(
        r#"ARG BASE=scratch
FROM ${BASE}
ARG VERSION=1.0
ARG UNSET
ENV APP_VERSION=$VERSION MODE="fast mode" \
    EMPTY=${UNSET:-fallback}
ENV LEGACY some value
WORKDIR /srv
WORKDIR app
COPY --chown=1000:1000 *.wasm data/ ./
LABEL org.opencontainers.image.version=${VERSION} "com.example.note"="a b"
EXPOSE 8080 9000/udp
"#,
        &args,
    )
    .unwrap();
    assert_eq!(
        got[0],
        Instruction::From {
            image: "scratch".into(),
            stage: None
        }
    );
    assert_eq!(
        got[1],
        Instruction::Env(vec![
            ("APP_VERSION".into(), "2.0".into()),
            ("MODE".into(), "fast mode".into()),
            ("EMPTY".into(), "fallback".into()),
        ])
    );
    assert_eq!(
        got[2],
        Instruction::Env(vec![("LEGACY".into(), "some value".into())])
    );
    assert_eq!(got[3], Instruction::Workdir("/srv".into()));
    assert_eq!(got[4], Instruction::Workdir("/srv/app".into()));
    assert_eq!(
        got[5],
        Instruction::Copy {
            sources: vec!["*.wasm".into(), "data/".into()],
            dest: "/srv/app/".into(),
            from: None
        }
    );
    assert_eq!(
        got[6],
        Instruction::Label(vec![
            ("org.opencontainers.image.version".into(), "2.0".into()),
            ("com.example.note".into(), "a b".into()),
        ])
    );
    assert_eq!(
        got[7],
        Instruction::Expose(vec!["8080".into(), "9000/udp".into()])
    );
}

#[test]
fn what_a_wasm_image_cannot_do_is_refused_with_the_line_and_the_way_out() {
    let e = fails("FROM scratch\nCOPY app.wasm /\nRUN make\n");
    assert_eq!(e.line, 3);
    assert!(
        e.to_string()
            .starts_with("Dockerfile:3: RUN cannot work in a Wasm image"),
        "{e}"
    );
    assert!(e.message.contains("COPY it in"), "{e}");

    let e = fails("FROM scratch\nENTRYPOINT /app.wasm --flag\n");
    assert!(
        e.message.contains("exec form") && e.message.contains("no shell"),
        "{e}"
    );
    let e = fails("FROM scratch\nCMD [\"a\", 1]\n");
    assert!(e.message.contains("JSON array of strings"), "{e}");

    assert!(fails("COPY a /\n").message.contains("before FROM"));
    assert!(fails("").message.contains("no FROM"));
    assert!(fails("FROM scratch\nUSER app\n")
        .message
        .contains("not supported"));
    assert!(fails("FROM scratch\nFROBNICATE\n")
        .message
        .contains("unknown instruction"));
    assert!(fails("FROM scratch\nADD --from=build /a /\n")
        .message
        .contains("COPY --from"));
    assert!(fails("FROM scratch\nADD https://x/y.wasm /\n")
        .message
        .contains("URL"));
    assert!(fails("FROM a AS b\nFROM scratch AS B\n")
        .message
        .contains("used twice"));
    assert!(fails("FROM --platform=linux/amd64 scratch\n")
        .message
        .contains("wasi/wasm"));
    assert!(fails("FROM scratch\nEXPOSE http\n")
        .message
        .contains("EXPOSE"));
    assert!(fails("FROM scratch\nENV\n").message.contains("KEY=VALUE"));
}

#[test]
fn substitution_rules() {
    let mut vars = BTreeMap::new();
    vars.insert("A".to_string(), "x".to_string());
    assert_eq!(
        substitute("$A-${A}-${B:-d}-${A:+alt}-${B:+alt}-\\$A", &vars).unwrap(),
        "x-x-d-alt--$A"
    );
    assert!(substitute("${A", &vars).is_err());
    assert_eq!(resolve("/srv", "../etc/./x"), "/etc/x");
    assert_eq!(resolve("/srv", "."), "/srv/");
}

#[test]
fn stages_and_copy_from() {
    let got = ok("FROM --platform=wasi/wasm scratch AS Build\nCOPY app.wasm /out/\nFROM scratch\nWORKDIR /srv\nCOPY --from=build /out/app.wasm app.wasm\n");
    assert_eq!(
        got[0],
        Instruction::From {
            image: "scratch".into(),
            stage: Some("build".into())
        }
    );
    assert_eq!(
        got[4],
        Instruction::Copy {
            sources: vec!["/out/app.wasm".into()],
            dest: "/srv/app.wasm".into(),
            from: Some("build".into())
        }
    );
    assert_eq!(
        got[4].to_string(),
        "COPY --from=build /out/app.wasm /srv/app.wasm"
    );
}
