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
    // The only test in this binary: nothing else reads the environment concurrently.
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
