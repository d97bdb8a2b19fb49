//! Telling containerd what happened to a task: `/tasks/create`, `/tasks/start`, `/tasks/exit`
//! and `/tasks/delete`, published on containerd's ttrpc address. CRI learns of exits this way
//! (beside `Wait`). A lost event is logged, never fatal to the task.

use std::sync::Arc;

use containerd_shim::protos::events::task::{TaskCreate, TaskDelete, TaskExit, TaskIO, TaskStart};
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::{MessageDyn, MessageField};
use containerd_shim::protos::topics;
use containerd_shim::protos::ttrpc::context::Context;
use containerd_shim::publisher::RemotePublisher;

/// Publishes a task's events for one containerd namespace.
#[derive(Clone)]
pub struct Events {
    publisher: Arc<RemotePublisher>,
    namespace: String,
}

impl Events {
    pub(crate) fn new(publisher: RemotePublisher, namespace: String) -> Events {
        Events {
            publisher: Arc::new(publisher),
            namespace,
        }
    }

    fn publish(&self, topic: &str, event: Box<dyn MessageDyn>) {
        if let Err(e) = self
            .publisher
            .publish(Context::default(), topic, &self.namespace, event)
        {
            eprintln!("wharf shim: cannot publish {topic}: {e}");
        }
    }

    /// The task exists.
    pub fn created(&self, id: &str, bundle: &str, stdio: &[String; 3], pid: u32) {
        let io = TaskIO {
            stdin: stdio[0].clone(),
            stdout: stdio[1].clone(),
            stderr: stdio[2].clone(),
            ..Default::default()
        };
        let event = TaskCreate {
            container_id: id.to_string(),
            bundle: bundle.to_string(),
            io: MessageField::some(io),
            pid,
            ..Default::default()
        };
        self.publish(topics::TASK_CREATE_EVENT_TOPIC, Box::new(event));
    }

    /// The guest runs.
    pub fn started(&self, id: &str, pid: u32) {
        let event = TaskStart {
            container_id: id.to_string(),
            pid,
            ..Default::default()
        };
        self.publish(topics::TASK_START_EVENT_TOPIC, Box::new(event));
    }

    /// The guest ended with `code` at `at`.
    pub fn exited(&self, id: &str, pid: u32, code: u32, at: &Timestamp) {
        let event = TaskExit {
            container_id: id.to_string(),
            id: id.to_string(),
            pid,
            exit_status: code,
            exited_at: MessageField::some(at.clone()),
            ..Default::default()
        };
        self.publish(topics::TASK_EXIT_EVENT_TOPIC, Box::new(event));
    }

    /// The task is gone.
    pub fn deleted(&self, id: &str, pid: u32, code: u32, at: &Timestamp) {
        let event = TaskDelete {
            container_id: id.to_string(),
            id: id.to_string(),
            pid,
            exit_status: code,
            exited_at: MessageField::some(at.clone()),
            ..Default::default()
        };
        self.publish(topics::TASK_DELETE_EVENT_TOPIC, Box::new(event));
    }
}
