fn main() -> std::process::ExitCode {
    remesos::cli::main()
}
