//! `taskrun completions SHELL` and `taskrun man`: what the shell and `man`
//! need, made from the command line's own definition so they never drift
//! from it.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Arguments;
use crate::error::Error;
use crate::exit_code;

use super::print_out;

/// Completes the task names of the task file in the current directory
/// (or the one given to `run`), from `taskrun list --names`, for the shells
/// whose completion can ask a program: added after clap's script.
const BASH_TASKS: &str = r#"
# Task names for `taskrun run [FILE] TASK...`, from the task file itself.
_taskrun_with_tasks() {
    _taskrun "$@"
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [[ ${COMP_WORDS[1]} == run && $cur != -* ]]; then
        local file=()
        [[ -f ${COMP_WORDS[2]} && $COMP_CWORD -gt 2 ]] && file=("${COMP_WORDS[2]}")
        COMPREPLY+=($(compgen -W "$(taskrun list "${file[@]}" --names 2>/dev/null)" -- "$cur"))
    fi
}
complete -F _taskrun_with_tasks -o bashdefault -o default taskrun
"#;

const FISH_TASKS: &str = "
# Task names for `taskrun run [FILE] TASK...`, from the task file itself.
complete -c taskrun -n '__fish_seen_subcommand_from run' -f -a '(taskrun list --names 2>/dev/null)'
";

/// `taskrun completions SHELL`.
pub(crate) fn completions(shell: Shell) -> Result<u8, Error> {
    let mut command = Arguments::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "taskrun", &mut script);
    let mut text = String::from_utf8_lossy(&script).into_owned();
    match shell {
        Shell::Bash => text.push_str(BASH_TASKS),
        Shell::Fish => text.push_str(FISH_TASKS),
        _ => {}
    }
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}

/// `taskrun man`.
pub(crate) fn man() -> Result<u8, Error> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Arguments::command()).render(&mut page)?;
    print_out(&String::from_utf8_lossy(&page))?;
    Ok(exit_code::SUCCESS)
}
