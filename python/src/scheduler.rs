//! `MesosSchedulerDriverImpl` (`mesos.scheduler`, `mesos.native.MesosSchedulerDriver`):
//! the methods of Apache's `mesos_scheduler_driver_impl.cpp` and the callbacks of
//! `mesos.interface.Scheduler`.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use remesos::client::Credential;
use remesos::client::driver;
use remesos::client::driver::scheduler::{Config, Event, Scheduler, SchedulerDriver};
use remesos_proto::v1;
use v1::scheduler as sched;

use crate::{DriverRef, Proxy, convert};

#[pyclass(
    module = "mesos.native._mesos",
    name = "MesosSchedulerDriverImpl",
    subclass,
    weakref
)]
pub struct MesosSchedulerDriverImpl {
    driver: SchedulerDriver,
    this: DriverRef,
}

fn simple(kind: sched::call::Type) -> sched::Call {
    sched::Call {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

#[pymethods]
impl MesosSchedulerDriverImpl {
    /// `(scheduler, framework, master, implicitAcknowledgements=True, credential=None,
    /// suppressedRoles=None)`, positional as the original parses them, or by keyword.
    /// `implicitAcknowledgements` is an int as the original parses it (`"OOs|iOO"`: Mesos's
    /// own test_framework.py passes `1` or `0`); a bool is an int to Python.
    #[new]
    #[pyo3(signature = (scheduler, framework, master, implicitAcknowledgements = 1, credential = None, suppressedRoles = None))]
    fn new(
        scheduler: Py<PyAny>,
        framework: &Bound<'_, PyAny>,
        master: &str,
        implicitAcknowledgements: i32,
        credential: Option<&Bound<'_, PyAny>>,
        suppressedRoles: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let framework: v1::FrameworkInfo = convert::from_python(framework, "FrameworkInfo")?;
        let credential = convert::optional::<v1::Credential>(credential, "Credential")?
            .map(Credential::from_proto)
            .transpose()
            .map_err(|e| PyException::new_err(e.to_string()))?;
        let mut config = Config::new(framework, master);
        config.implicit_acknowledgements = implicitAcknowledgements != 0;
        config.credential = credential;
        config.suppressed_roles = convert::strings(suppressedRoles, "suppressedRoles")?;
        config.local.launcher_dir = driver::launcher_dir_on_path();
        let config = config.with_env(&driver::environment());
        let (proxy, this) = Proxy::new(scheduler);
        let proxy = PythonScheduler(proxy);
        Ok(MesosSchedulerDriverImpl {
            driver: SchedulerDriver::new(config, Box::new(proxy)),
            this,
        })
    }

    fn start(slf: &Bound<'_, Self>) -> PyResult<i32> {
        let this = slf.borrow();
        crate::remember(&this.this, slf)?;
        Ok(convert::status(this.driver.start()))
    }

    /// `failover` is a byte as the original parses it (`"|b"`): `stop(1)` works.
    #[pyo3(signature = (failover = 0))]
    fn stop(&self, py: Python<'_>, failover: u8) -> i32 {
        convert::status(crate::wait(py, || self.driver.stop(failover != 0)))
    }

    fn abort(&self) -> i32 {
        convert::status(self.driver.abort())
    }

    fn join(&self, py: Python<'_>) -> i32 {
        convert::status(crate::wait(py, || self.driver.join()))
    }

    fn run(slf: &Bound<'_, Self>) -> PyResult<i32> {
        let started = Self::start(slf)?;
        Ok(crate::run(started, || slf.borrow().join(slf.py())))
    }

    fn requestResources(&self, requests: &Bound<'_, PyAny>) -> PyResult<i32> {
        let requests = convert::list(requests, "Request", "Parameter 1 to requestResources")?;
        let mut call = simple(sched::call::Type::Request);
        call.request = Some(sched::call::Request { requests });
        Ok(convert::status(self.driver.call(call)))
    }

    #[pyo3(signature = (offerIds, tasks, filters = None))]
    fn launchTasks(
        &self,
        offerIds: &Bound<'_, PyAny>,
        tasks: &Bound<'_, PyAny>,
        filters: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i32> {
        let offers = convert::offer_ids(offerIds, "Parameter 1 to launchTasks")?;
        let tasks = convert::list(tasks, "TaskInfo", "Parameter 2 to launchTasks")?;
        let filters = convert::optional(filters, "Filters")?;
        Ok(convert::status(
            self.driver.launch_tasks(offers, tasks, filters),
        ))
    }

    #[pyo3(signature = (offerIds, operations, filters = None))]
    fn acceptOffers(
        &self,
        offerIds: &Bound<'_, PyAny>,
        operations: &Bound<'_, PyAny>,
        filters: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i32> {
        let offers = convert::offer_ids(offerIds, "Parameter 1 to acceptOffers")?;
        let operations =
            convert::list(operations, "Offer.Operation", "Parameter 2 to acceptOffers")?;
        let filters = convert::optional(filters, "Filters")?;
        Ok(convert::status(
            self.driver.accept(offers, operations, filters),
        ))
    }

    fn killTask(&self, taskId: &Bound<'_, PyAny>) -> PyResult<i32> {
        let task_id = convert::from_python(taskId, "TaskID")?;
        let mut call = simple(sched::call::Type::Kill);
        call.kill = Some(sched::call::Kill {
            task_id,
            agent_id: None,
            kill_policy: None,
        });
        Ok(convert::status(self.driver.call(call)))
    }

    #[pyo3(signature = (offerId, filters = None))]
    fn declineOffer(
        &self,
        offerId: &Bound<'_, PyAny>,
        filters: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i32> {
        let offer_id = convert::from_python(offerId, "OfferID")?;
        let filters = convert::optional(filters, "Filters")?;
        let mut call = simple(sched::call::Type::Decline);
        call.decline = Some(sched::call::Decline {
            offer_ids: vec![offer_id],
            filters,
        });
        Ok(convert::status(self.driver.call(call)))
    }

    /// `reviveOffers()`, or `reviveOffers(roles)` as the later C++ API takes them.
    #[pyo3(signature = (roles = None))]
    fn reviveOffers(&self, roles: Option<&Bound<'_, PyAny>>) -> PyResult<i32> {
        let given = roles.is_some();
        let roles = convert::strings(roles, "roles")?;
        // An empty list names no role: nothing to do (sched.cpp); `None` means all roles.
        if given && roles.is_empty() {
            return Ok(convert::status(self.driver.status()));
        }
        let mut call = simple(sched::call::Type::Revive);
        call.revive = Some(sched::call::Revive { roles });
        Ok(convert::status(self.driver.call(call)))
    }

    #[pyo3(signature = (roles = None))]
    fn suppressOffers(&self, roles: Option<&Bound<'_, PyAny>>) -> PyResult<i32> {
        let given = roles.is_some();
        let roles = convert::strings(roles, "roles")?;
        // An empty list names no role: nothing to do (sched.cpp); `None` means all roles.
        if given && roles.is_empty() {
            return Ok(convert::status(self.driver.status()));
        }
        let mut call = simple(sched::call::Type::Suppress);
        call.suppress = Some(sched::call::Suppress { roles });
        Ok(convert::status(self.driver.call(call)))
    }

    fn acknowledgeStatusUpdate(&self, status: &Bound<'_, PyAny>) -> PyResult<i32> {
        let status: v1::TaskStatus = convert::from_python(status, "TaskStatus")?;
        self.driver
            .acknowledge(&status)
            .map(convert::status)
            .map_err(PyException::new_err)
    }

    fn sendFrameworkMessage(
        &self,
        executorId: &Bound<'_, PyAny>,
        slaveId: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<i32> {
        let executor_id = convert::from_python(executorId, "ExecutorID")?;
        let agent_id = convert::from_python(slaveId, "SlaveID")?;
        let data = convert::data(data)?;
        let mut call = simple(sched::call::Type::Message);
        call.message = Some(sched::call::Message {
            agent_id,
            executor_id,
            data,
        });
        Ok(convert::status(self.driver.call(call)))
    }

    fn reconcileTasks(&self, statuses: &Bound<'_, PyAny>) -> PyResult<i32> {
        let statuses: Vec<v1::TaskStatus> =
            convert::list(statuses, "TaskStatus", "Parameter 1 to reconcileTasks")?;
        let mut call = simple(sched::call::Type::Reconcile);
        call.reconcile = Some(sched::call::Reconcile {
            tasks: statuses
                .into_iter()
                .map(|s| sched::call::reconcile::Task {
                    task_id: s.task_id,
                    agent_id: s.agent_id,
                })
                .collect(),
        });
        Ok(convert::status(self.driver.call(call)))
    }

    #[pyo3(signature = (frameworkInfo, suppressedRoles = None))]
    fn updateFramework(
        &self,
        frameworkInfo: &Bound<'_, PyAny>,
        suppressedRoles: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i32> {
        let framework_info = convert::from_python(frameworkInfo, "FrameworkInfo")?;
        let suppressed_roles = convert::strings(suppressedRoles, "suppressedRoles")?;
        let mut call = simple(sched::call::Type::UpdateFramework);
        call.update_framework = Some(sched::call::UpdateFramework {
            framework_info,
            suppressed_roles,
            offer_constraints: None,
        });
        Ok(convert::status(self.driver.call(call)))
    }
}

/// Calls the Python `Scheduler` from the driver's callback thread.
struct PythonScheduler(Proxy);

/// The callback of `event` on `scheduler`: its name and what it returned or raised.
fn call<'py>(
    py: Python<'py>,
    driver: &Bound<'py, PyAny>,
    scheduler: &Bound<'py, PyAny>,
    event: Event,
) -> (&'static str, PyResult<Bound<'py, PyAny>>) {
    match event {
        Event::Registered {
            framework_id,
            master_info,
        } => (
            "registered",
            (|| {
                let id = convert::to_python(py, "FrameworkID", &framework_id)?;
                let master = convert::to_python(py, "MasterInfo", &master_info)?;
                scheduler.call_method1("registered", (driver, id, master))
            })(),
        ),
        Event::Reregistered(master_info) => (
            "reregistered",
            convert::to_python(py, "MasterInfo", &master_info)
                .and_then(|m| scheduler.call_method1("reregistered", (driver, m))),
        ),
        Event::ResourceOffers(offers) => (
            "resourceOffers",
            offers
                .iter()
                .map(|o| convert::to_python(py, "Offer", o))
                .collect::<PyResult<Vec<_>>>()
                .and_then(|list| scheduler.call_method1("resourceOffers", (driver, list))),
        ),
        Event::OfferRescinded(offer_id) => (
            "offerRescinded",
            convert::to_python(py, "OfferID", &offer_id)
                .and_then(|id| scheduler.call_method1("offerRescinded", (driver, id))),
        ),
        Event::StatusUpdate(status) => (
            "statusUpdate",
            convert::to_python(py, "TaskStatus", &status)
                .and_then(|s| scheduler.call_method1("statusUpdate", (driver, s))),
        ),
        Event::FrameworkMessage {
            executor_id,
            agent_id,
            data,
        } => (
            "frameworkMessage",
            (|| {
                let executor = convert::to_python(py, "ExecutorID", &executor_id)?;
                let agent = convert::to_python(py, "SlaveID", &agent_id)?;
                let data = PyBytes::new(py, &data);
                scheduler.call_method1("frameworkMessage", (driver, executor, agent, data))
            })(),
        ),
        Event::Disconnected => (
            "disconnected",
            scheduler.call_method1("disconnected", (driver,)),
        ),
        Event::SlaveLost(agent_id) => (
            "slaveLost",
            convert::to_python(py, "SlaveID", &agent_id)
                .and_then(|a| scheduler.call_method1("slaveLost", (driver, a))),
        ),
        Event::ExecutorLost {
            executor_id,
            agent_id,
            status,
        } => (
            "executorLost",
            (|| {
                let executor = convert::to_python(py, "ExecutorID", &executor_id)?;
                let agent = convert::to_python(py, "SlaveID", &agent_id)?;
                scheduler.call_method1("executorLost", (driver, executor, agent, status))
            })(),
        ),
        Event::Error(message) => ("error", scheduler.call_method1("error", (driver, message))),
    }
}

impl Scheduler for PythonScheduler {
    fn deliver(&mut self, event: Event) -> Result<(), String> {
        self.0.deliver("scheduler", |py, driver, target| {
            call(py, driver, target, event)
        })
    }
}
