//! `MesosExecutorDriverImpl` (`mesos.executor`, `mesos.native.MesosExecutorDriver`): the
//! methods of Apache's `mesos_executor_driver_impl.cpp` and the callbacks of
//! `mesos.interface.Executor`.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use remesos::client::driver;
use remesos::client::driver::executor::{Event, Executor, ExecutorDriver};
use remesos_proto::v1;

use crate::{DriverRef, Proxy, convert};

#[pyclass(
    module = "mesos.native._mesos",
    name = "MesosExecutorDriverImpl",
    subclass,
    weakref
)]
pub struct MesosExecutorDriverImpl {
    driver: ExecutorDriver,
    this: DriverRef,
}

#[pymethods]
impl MesosExecutorDriverImpl {
    /// `(executor)`: the environment the agent gave this process is read at `start`.
    #[new]
    fn new(executor: Py<PyAny>) -> Self {
        let (proxy, this) = Proxy::new(executor);
        let proxy = PythonExecutor(proxy);
        MesosExecutorDriverImpl {
            driver: ExecutorDriver::new(Box::new(proxy), driver::environment()),
            this,
        }
    }

    /// Connects to the agent; outside an executor's environment this raises (Apache's
    /// driver exits the process instead).
    fn start(slf: &Bound<'_, Self>) -> PyResult<i32> {
        let this = slf.borrow();
        crate::remember(&this.this, slf)?;
        this.driver
            .start()
            .map(convert::status)
            .map_err(PyException::new_err)
    }

    fn stop(&self, py: Python<'_>) -> i32 {
        convert::status(crate::wait(py, || self.driver.stop()))
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

    /// TASK_STAGING shuts the executor down, as Mesos's agent does (the core driver's
    /// `refuse_staging`).
    fn sendStatusUpdate(&self, status: &Bound<'_, PyAny>) -> PyResult<i32> {
        let status: v1::TaskStatus = convert::from_python(status, "TaskStatus")?;
        Ok(convert::status(self.driver.send_status_update(status)))
    }

    fn sendFrameworkMessage(&self, data: &Bound<'_, PyAny>) -> PyResult<i32> {
        let data = convert::data(data)?;
        Ok(convert::status(self.driver.send_framework_message(data)))
    }
}

/// Calls the Python `Executor` from the driver's callback thread.
struct PythonExecutor(Proxy);

/// The callback of `event` on `executor`: its name and what it returned or raised.
fn call<'py>(
    py: Python<'py>,
    driver: &Bound<'py, PyAny>,
    executor: &Bound<'py, PyAny>,
    event: Event,
) -> (&'static str, PyResult<Bound<'py, PyAny>>) {
    match event {
        Event::Registered {
            executor_info,
            framework_info,
            agent_info,
        } => (
            "registered",
            (|| {
                let executor_info = convert::to_python(py, "ExecutorInfo", &*executor_info)?;
                let framework = convert::to_python(py, "FrameworkInfo", &*framework_info)?;
                let agent = convert::to_python(py, "SlaveInfo", &*agent_info)?;
                executor.call_method1("registered", (driver, executor_info, framework, agent))
            })(),
        ),
        Event::Reregistered(agent_info) => (
            "reregistered",
            convert::to_python(py, "SlaveInfo", &agent_info)
                .and_then(|a| executor.call_method1("reregistered", (driver, a))),
        ),
        Event::Disconnected => (
            "disconnected",
            executor.call_method1("disconnected", (driver,)),
        ),
        Event::LaunchTask(task) => (
            "launchTask",
            convert::to_python(py, "TaskInfo", &*task)
                .and_then(|t| executor.call_method1("launchTask", (driver, t))),
        ),
        Event::KillTask(task_id) => (
            "killTask",
            convert::to_python(py, "TaskID", &task_id)
                .and_then(|t| executor.call_method1("killTask", (driver, t))),
        ),
        Event::FrameworkMessage(data) => (
            "frameworkMessage",
            executor.call_method1("frameworkMessage", (driver, PyBytes::new(py, &data))),
        ),
        Event::Shutdown => ("shutdown", executor.call_method1("shutdown", (driver,))),
        Event::Error(message) => ("error", executor.call_method1("error", (driver, message))),
    }
}

impl Executor for PythonExecutor {
    fn deliver(&mut self, event: Event) -> Result<(), String> {
        self.0.deliver("executor", |py, driver, target| {
            call(py, driver, target, event)
        })
    }
}
