//! Quit mid-lesson, start again: the same lesson comes back at the same step, and the
//! language last chosen with F10, from a real progress file in a temporary data directory
//! (MOE_TUTOR_DATA_DIR).

mod app_support;

use app_support::*;
use crossterm::event::KeyCode;
use moe_tutor::app::LessonSetup;
use moe_tutor::lessons::{Lang, ProgressStore};

#[test]
fn a_lesson_resumes_at_the_step_it_was_left_at() {
    let data = tempfile::tempdir().expect("tempdir");
    // No other test in this binary uses the data directory from the environment.
    std::env::set_var("MOE_TUTOR_DATA_DIR", data.path());
    let setup = || LessonSetup::standard(Lang::En, false, false);

    let mut app = loaded(moe_info(8, 2, 3, 1));
    app.setup_lessons(setup());
    assert!(!app.lesson_open());
    ctrl(&mut app, 'l');
    press(&mut app, KeyCode::Enter);
    let id = app.lessons().active().expect("open").lesson.id.clone();
    ctrl(&mut app, 'n');
    ctrl(&mut app, 'n');
    assert_eq!(app.lessons().active().map(|a| a.step), Some(2));
    let file = ProgressStore::default_location().path;
    assert!(file.starts_with(data.path()) && file.exists());
    drop(app);

    let mut again = loaded(moe_info(8, 2, 3, 1));
    again.setup_lessons(setup());
    let a = again.lessons().active().expect("the lesson reopens");
    assert_eq!((a.lesson.id.as_str(), a.step), (id.as_str(), 2));

    // Closing the lesson (Del in the list) is remembered too.
    ctrl(&mut again, 'l');
    press(&mut again, KeyCode::Delete);
    let mut third = loaded(moe_info(8, 2, 3, 1));
    third.setup_lessons(setup());
    assert!(!third.lesson_open());
    // ...while the step reached stays for when it is opened again.
    ctrl(&mut third, 'l');
    press(&mut third, KeyCode::Enter);
    assert_eq!(third.lessons().active().map(|a| a.step), Some(2));

    // F10's language is remembered for the next start, unless one was asked for.
    press(&mut third, KeyCode::F(10));
    assert_eq!(third.lang(), Lang::ZhCn);
    drop(third);
    let mut fourth = loaded(moe_info(8, 2, 3, 1));
    fourth.setup_lessons(setup());
    assert_eq!(fourth.lang(), Lang::ZhCn, "the F10 choice comes back");
    let mut fifth = loaded(moe_info(8, 2, 3, 1));
    fifth.setup_lessons(LessonSetup::standard(Lang::En, true, false));
    assert_eq!(fifth.lang(), Lang::En, "--lang / config language wins");
}

/// A lesson removed from lessons/ (01-sampling-dials was folded into 020/030) may still be
/// named in a learner's progress file: it loads without complaint, nothing opens, and the
/// other lessons keep their steps. (Its own store, not the environment's data directory.)
#[test]
fn a_progress_file_naming_a_removed_lesson_still_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("progress.json");
    std::fs::write(
        &path,
        r#"{"version":1,"current":"sampling-dials","lessons":{
            "sampling-dials":{"step":3,"reached":3,"completed":false},
            "temperature":{"step":2,"reached":2,"completed":false}}}"#,
    )
    .expect("write");
    let library = moe_tutor::lessons::load_dir(&moe_tutor::lessons::default_dir());
    assert!(library.get("sampling-dials").is_none());
    let index = library
        .entries
        .iter()
        .position(|e| e.lesson().is_some_and(|l| l.id == "temperature"))
        .expect("the temperature lesson");
    let mut app = loaded(moe_info(8, 2, 3, 1));
    app.setup_lessons(LessonSetup {
        library,
        lang: Lang::En,
        store: Some(ProgressStore::at(&path)),
        open_list: false,
        lang_explicit: true,
    });
    assert!(!app.lesson_open(), "nothing to reopen");
    assert!(app.notice().is_none(), "no complaint about the file");
    ctrl(&mut app, 'l');
    for _ in 0..index {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Enter);
    let a = app.lessons().active().expect("opens");
    assert_eq!((a.lesson.id.as_str(), a.step), ("temperature", 2));
}
