//! The language of what people read, chosen per request from `Accept-Language`.
//! Vietnamese is the default; English when the client prefers it.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    /// Picks the first of `vi` or `en` by quality value; anything else falls back to Vietnamese.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Vi;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("vi") => Lang::Vi,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Vi)
    }
}

/// What a request carries through its task: its id and its reader's language.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub lang: Lang,
}

tokio::task_local! {
    pub static REQUEST: RequestContext;
}

pub fn current_lang() -> Lang {
    REQUEST.try_with(|c| c.lang).unwrap_or(Lang::Vi)
}

pub fn current_request_id() -> Option<String> {
    REQUEST.try_with(|c| c.request_id.clone()).ok()
}

/// Human text for a stable code, in both languages. Unknown codes fall back to a generic text,
/// so a missing entry never hides the code itself.
pub fn text(code: &str) -> (&'static str, &'static str) {
    match code {
        "validation_failed" => ("Dữ liệu không hợp lệ.", "The request is not valid."),
        "malformed_json" => (
            "Nội dung JSON bị lỗi cú pháp.",
            "The JSON body is malformed.",
        ),
        "json_wrong_type" => (
            "Nội dung JSON sai kiểu dữ liệu hoặc thiếu trường.",
            "The JSON body has a wrong type or a missing field.",
        ),
        "malformed_body" => (
            "Nội dung yêu cầu không đọc được.",
            "The request body cannot be read.",
        ),
        "missing_content_type" => (
            "Thiếu hoặc sai Content-Type.",
            "The Content-Type is missing or wrong.",
        ),
        "malformed_query" => (
            "Tham số truy vấn không hợp lệ.",
            "The query parameters are not valid.",
        ),
        "malformed_path" => (
            "Đường dẫn chứa giá trị không hợp lệ.",
            "The path contains an invalid value.",
        ),
        "payload_too_large" => (
            "Nội dung gửi lên quá lớn.",
            "The request body is too large.",
        ),
        "unsupported_media_type" => (
            "Định dạng tệp không được hỗ trợ.",
            "The file format is not supported.",
        ),
        "route_not_found" => ("Không có địa chỉ này.", "There is no such route."),
        "no_consent_for_photos" => (
            "Thí sinh chưa đồng ý cho chụp ảnh.",
            "The candidate has not consented to photos.",
        ),
        "photo_not_found" => ("Không tìm thấy ảnh.", "The photo was not found."),
        "photo_not_pending" => ("Ảnh này đã được lưu.", "This photo is already stored."),
        "consent_not_given" => (
            "Cần đồng ý rõ ràng; im lặng không phải là đồng ý.",
            "Explicit agreement is needed; silence is not consent.",
        ),
        "consent_text_outdated" => (
            "Văn bản đồng ý đã có phiên bản mới; hãy đọc lại.",
            "The consent text has a newer version; read it again.",
        ),
        "guardian_required" => (
            "Học sinh dưới 16 tuổi cần cha, mẹ hoặc người giám hộ đồng ý.",
            "A student under 16 needs a parent or guardian to consent.",
        ),
        "consent_not_found" => (
            "Không tìm thấy sự đồng ý này.",
            "The consent was not found.",
        ),
        "consent_withdrawn" => (
            "Sự đồng ý này đã được rút lại.",
            "This consent was already withdrawn.",
        ),
        "no_consent_for_id_card" => (
            "Thí sinh chưa đồng ý dùng CCCD; hãy điểm danh thủ công.",
            "The candidate has not consented to ID-card check-in; check them in by hand.",
        ),
        "malformed_qr" => (
            "Không đọc được mã QR trên CCCD.",
            "The ID card's QR code could not be read.",
        ),
        "invalid_id_number" => ("Số CCCD không hợp lệ.", "The ID card number is not valid."),
        "id_card_mismatch" => (
            "Thông tin trên CCCD không khớp với thí sinh.",
            "The ID card does not match the candidate.",
        ),
        "id_belongs_to_another_candidate" => (
            "CCCD này thuộc về một thí sinh khác.",
            "This ID card belongs to another candidate.",
        ),
        "id_number_taken" => (
            "Số CCCD này đã được gán cho người khác.",
            "This ID number is already recorded for someone else.",
        ),
        "id_number_not_found" => (
            "Chưa có số CCCD của người này.",
            "No ID number is recorded for this person.",
        ),
        "id_number_birth_year_differs" => (
            "Năm sinh trong số CCCD khác ngày sinh đã lưu.",
            "The ID number's birth year differs from the recorded date of birth.",
        ),
        "not_shared_with_class" => (
            "Học sinh của lớp không được xem học liệu này.",
            "The class's students cannot read this item.",
        ),
        "not_a_practice_for_class" => (
            "Không phải bài luyện tập của lớp hoặc trường này.",
            "Not a practice test of this class or school.",
        ),
        "one_of_item_or_sitting" => (
            "Chọn một học liệu hoặc một bài luyện tập.",
            "Give either an item or a practice sitting.",
        ),
        "assignment_not_found" => (
            "Không tìm thấy bài được giao.",
            "The assignment was not found.",
        ),
        "after_to" => (
            "Ngày bắt đầu phải trước ngày kết thúc.",
            "The first day must come before the last.",
        ),
        "quota_exceeded" => (
            "Bạn đã dùng hết dung lượng lưu trữ được cấp.",
            "Your storage quota is used up.",
        ),
        "school_quota_exceeded" => (
            "Trường đã dùng hết dung lượng lưu trữ được cấp.",
            "The school's storage quota is used up.",
        ),
        "upload_not_found" => ("Không tìm thấy lượt tải lên.", "The upload was not found."),
        "upload_not_pending" => (
            "Lượt tải lên này đã kết thúc.",
            "This upload is already finished.",
        ),
        "upload_expired" => (
            "Lượt tải lên đã hết hạn; hãy tải lại.",
            "The upload expired; start again.",
        ),
        "upload_missing" => (
            "Chưa nhận được tệp tải lên.",
            "The uploaded file has not arrived.",
        ),
        "size_mismatch" => (
            "Kích thước tệp khác kích thước đã khai báo.",
            "The file's size differs from the declared size.",
        ),
        "checksum_mismatch" => (
            "Mã kiểm tra SHA-256 của tệp không khớp.",
            "The file's SHA-256 does not match.",
        ),
        "content_type_mismatch" => (
            "Nội dung tệp không đúng loại đã khai báo.",
            "The file's content is not of the declared type.",
        ),
        "unsafe_archive_path" => (
            "Gói nén chứa đường dẫn không an toàn.",
            "The archive contains an unsafe path.",
        ),
        "missing_parts" => (
            "Thiếu phần của tệp tải lên.",
            "Parts of the upload are missing.",
        ),
        "parts_incomplete" => (
            "Không ghép được các phần của tệp.",
            "The parts could not be assembled.",
        ),
        "file_not_found" => ("Không tìm thấy tệp.", "The file was not found."),
        "wrong_file_type" => (
            "Loại tệp không phù hợp với loại học liệu.",
            "The file type does not fit this kind of content.",
        ),
        "content_not_found" => (
            "Không tìm thấy học liệu.",
            "The content item was not found.",
        ),
        "version_not_found" => ("Không tìm thấy phiên bản.", "The version was not found."),
        "kind_changed" => (
            "Không thể đổi loại học liệu.",
            "The kind of an item cannot change.",
        ),
        "content_changed" => (
            "Học liệu vừa được sửa, hãy thử lại.",
            "The item was changed just now; try again.",
        ),
        "not_for_province" => (
            "Chỉ học liệu dùng chung toàn tỉnh mới cần duyệt.",
            "Only province-wide items go through review.",
        ),
        "taken_down" => ("Học liệu đã bị gỡ.", "The item was taken down."),
        "nothing_to_submit" => (
            "Không có phiên bản nào để gửi duyệt.",
            "There is no version to submit.",
        ),
        "nothing_submitted" => (
            "Không có phiên bản nào đang chờ duyệt.",
            "No version is waiting for review.",
        ),
        "invalid_sort" => ("Cách sắp xếp không hợp lệ.", "The sort order is not valid."),
        "no_file" => ("Học liệu này không có tệp.", "This item has no file."),
        "exam_not_found" => ("Không tìm thấy kỳ thi.", "The exam was not found."),
        "sitting_not_found" => ("Không tìm thấy ca thi.", "The sitting was not found."),
        "attempt_not_found" => ("Không tìm thấy bài làm.", "The attempt was not found."),
        "candidate_not_found" => ("Không tìm thấy thí sinh.", "The candidate was not found."),
        "room_not_found" => ("Không tìm thấy phòng thi.", "The exam room was not found."),
        "sitting_locked" => (
            "Danh sách thí sinh của ca thi đã khóa.",
            "The sitting's roster is locked.",
        ),
        "not_enough_seats" => (
            "Các phòng thi không đủ chỗ.",
            "The rooms do not have enough seats.",
        ),
        "no_candidates" => ("Ca thi chưa có thí sinh.", "The sitting has no candidates."),
        "paper_has_no_codes" => ("Đề thi chưa có mã đề.", "The paper has no codes."),
        "attempt_already_started" => ("Bài làm đã bắt đầu.", "The attempt has already started."),
        "attempt_changed" => (
            "Bài làm vừa được thay đổi, hãy thử lại.",
            "The attempt was changed just now; try again.",
        ),
        "attempt_not_started" => ("Bài làm chưa bắt đầu.", "The attempt has not started."),
        "attempt_paused" => (
            "Bài làm đang tạm dừng, chờ giám thị cho tiếp tục.",
            "The attempt is paused until a proctor lets it continue.",
        ),
        "attempt_closed" => (
            "Bài làm đã nộp hoặc đã bị hủy.",
            "The attempt is submitted or voided.",
        ),
        "device_not_current" => (
            "Bài làm đang được làm trên thiết bị khác.",
            "The attempt is being taken on another device.",
        ),
        "deadline_passed" => (
            "Đã hết giờ làm bài; câu trả lời này không được ghi nhận.",
            "Time is up; this answer was not recorded.",
        ),
        "section_closed" => (
            "Phần này không mở để trả lời.",
            "This part is not open for answers.",
        ),
        "sitting_not_open" => ("Ca thi chưa mở hoặc đã đóng.", "The sitting is not open."),
        "not_checked_in" => (
            "Thí sinh chưa được giám thị điểm danh.",
            "The candidate has not been checked in by a proctor.",
        ),
        "late_start_limit_passed" => (
            "Đã quá thời gian cho phép vào thi muộn; hãy báo giám thị.",
            "The late-start limit has passed; ask a proctor.",
        ),
        "device_switch_needs_approval" => (
            "Đổi thiết bị cần giám thị phê duyệt.",
            "Switching devices needs a proctor's approval.",
        ),
        "navigation_is_free" => (
            "Ca thi này cho làm các phần tự do.",
            "This sitting has free navigation.",
        ),
        "attempt_not_in_progress" => (
            "Bài làm không ở trạng thái đang làm.",
            "The attempt is not in progress.",
        ),
        "no_next_section" => ("Đây là phần cuối cùng.", "This is the last part."),
        "not_a_practice_test" => (
            "Đây không phải bài luyện tập.",
            "This is not a practice test.",
        ),
        "attempt_open" => (
            "Bạn còn một lượt làm chưa nộp.",
            "You have an attempt that is not submitted.",
        ),
        "no_attempts_left" => (
            "Bạn đã dùng hết số lượt làm bài.",
            "You have used every attempt.",
        ),
        "results_not_released" => (
            "Kết quả chưa được công bố.",
            "Results are not released yet.",
        ),
        "not_graded" => ("Bài làm chưa được chấm.", "The attempt is not graded yet."),
        "candidate_has_no_room" => (
            "Thí sinh chưa được xếp phòng.",
            "The candidate has no room.",
        ),
        "already_checked_in" => (
            "Thí sinh đã được điểm danh.",
            "The candidate is already checked in.",
        ),
        "attempt_not_paused" => ("Bài làm không tạm dừng.", "The attempt is not paused."),
        "no_device_switch_pending" => (
            "Không có yêu cầu đổi thiết bị.",
            "No device switch is waiting.",
        ),
        "attempt_not_submitted" => ("Bài làm chưa nộp.", "The attempt is not submitted."),
        "already_marked_by_you" => ("Bạn đã chấm bài này.", "You have already marked this."),
        "round_not_open" => (
            "Lượt chấm này chưa mở hoặc đã xong.",
            "This marking round is not open.",
        ),
        "invalid_candidate_number" => (
            "Số báo danh không hợp lệ.",
            "The candidate number is not valid.",
        ),
        "duplicate_candidate_number" => (
            "Số báo danh bị trùng.",
            "The candidate number is used twice.",
        ),
        "not_a_student_of_exam" => (
            "Không phải học sinh thuộc phạm vi kỳ thi.",
            "Not a student within the exam's scope.",
        ),
        "already_registered" => (
            "Học sinh đã có trong ca thi.",
            "The student is already registered.",
        ),
        "out_of_range" => (
            "Giá trị nằm ngoài khoảng cho phép.",
            "The value is out of range.",
        ),
        "no_such_slot" => ("Đề không có câu này.", "The paper has no such question."),
        "answer_not_a_choice" => (
            "Câu trả lời phải là A, B, C hoặc D.",
            "The answer must be A, B, C or D.",
        ),
        "answer_not_true_false" => (
            "Cần bốn ý, mỗi ý Đ, S hoặc để trống.",
            "Four marks are needed, each Đ, S or blank.",
        ),
        "essay_not_text" => (
            "Bài tự luận phải là văn bản.",
            "An essay answer must be text.",
        ),
        "essay_too_long" => ("Bài tự luận quá dài.", "The essay is too long."),
        "unknown_incident" => ("Loại sự cố không được hỗ trợ.", "Unknown incident kind."),
        "not_a_proctor" => (
            "Người này không thể làm giám thị phòng thi.",
            "This person cannot proctor the room.",
        ),
        "no_students" => (
            "Không có học sinh nào để đăng ký.",
            "There are no students to register.",
        ),
        "other_school" => (
            "Học sinh thuộc trường khác.",
            "The student belongs to another school.",
        ),
        "before_start" => (
            "Thời điểm đóng phải sau thời điểm bắt đầu.",
            "The closing time must be after the start.",
        ),
        "not_an_essay" => (
            "Câu này không phải tự luận.",
            "This question is not an essay.",
        ),
        "invalid_key" => ("Đáp án không hợp lệ.", "The key is not valid."),
        "no_such_code" => ("Không có mã đề này.", "There is no such paper code."),
        "not_in_room" => (
            "Bài làm không thuộc phòng thi này.",
            "The attempt is not in this room.",
        ),
        "invalid" => ("Giá trị không hợp lệ.", "The value is not valid."),
        "method_not_allowed" => (
            "Phương thức không được hỗ trợ ở địa chỉ này.",
            "This method is not allowed on this route.",
        ),
        "not_found" => ("Không tìm thấy.", "Not found."),
        "school_not_found" => ("Không tìm thấy trường.", "School not found."),
        "class_not_found" => ("Không tìm thấy lớp.", "Class not found."),
        "user_not_found" => ("Không tìm thấy người dùng.", "User not found."),
        "unauthenticated" => ("Bạn cần đăng nhập.", "You need to sign in."),
        "token_expired" => (
            "Phiên đăng nhập đã hết hạn.",
            "The access token has expired.",
        ),
        "token_invalid" => (
            "Mã truy cập không hợp lệ.",
            "The access token is not valid.",
        ),
        "token_revoked" => (
            "Phiên đăng nhập đã bị thu hồi.",
            "The session has been revoked.",
        ),
        "invalid_credentials" => (
            "Tên đăng nhập hoặc mật khẩu không đúng.",
            "Wrong login or password.",
        ),
        "account_disabled" => ("Tài khoản đã bị khóa.", "The account is disabled."),
        "refresh_token_invalid" => (
            "Mã làm mới không hợp lệ hoặc đã hết hạn.",
            "The refresh token is not valid or has expired.",
        ),
        "refresh_token_reused" => (
            "Mã làm mới đã được dùng trước đó; mọi phiên liên quan đã bị thu hồi.",
            "The refresh token was already used; the whole session family has been revoked.",
        ),
        "wrong_current_password" => (
            "Mật khẩu hiện tại không đúng.",
            "The current password is wrong.",
        ),
        "forbidden" => (
            "Bạn không có quyền thực hiện thao tác này.",
            "You are not allowed to do this.",
        ),
        "too_many_login_attempts" => (
            "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau.",
            "Too many failed sign-ins. Please try again later.",
        ),
        "service_unavailable" => (
            "Hệ thống đang bận. Vui lòng thử lại sau giây lát.",
            "The service is busy. Please retry shortly.",
        ),
        "internal_error" => (
            "Đã có lỗi hệ thống. Hãy báo mã yêu cầu cho quản trị viên.",
            "Something went wrong on our side. Please report the request id.",
        ),
        "login_taken" => ("Tên đăng nhập đã tồn tại.", "This login is already taken."),
        "school_code_taken" => (
            "Mã trường đã tồn tại.",
            "This school code is already taken.",
        ),
        "class_exists" => (
            "Lớp này đã có trong năm học.",
            "This class already exists for that school year.",
        ),
        "signature_invalid" => (
            "Liên kết không hợp lệ hoặc đã hết hạn.",
            "The link is not valid or has expired.",
        ),
        // Field and row codes.
        "required" => ("Trường này là bắt buộc.", "This field is required."),
        "too_long" => ("Giá trị quá dài.", "The value is too long."),
        "invalid_login" => (
            "Tên đăng nhập chỉ gồm chữ không dấu, số và . _ - @ (3-64 ký tự).",
            "A login uses unaccented letters, digits and . _ - @ (3-64 characters).",
        ),
        "invalid_email" => (
            "Địa chỉ email không hợp lệ.",
            "The email address is not valid.",
        ),
        "invalid_role" => ("Vai trò không hợp lệ.", "Unknown role."),
        "invalid_scope" => (
            "Vai trò không phù hợp với phạm vi (trường hoặc toàn tỉnh).",
            "The role does not fit its scope (a school or the province).",
        ),
        "password_too_short" => (
            "Mật khẩu cần ít nhất 8 ký tự.",
            "The password needs at least 8 characters.",
        ),
        "password_too_long" => (
            "Mật khẩu quá dài (tối đa 128 ký tự).",
            "The password is too long (128 characters at most).",
        ),
        "invalid_date" => (
            "Ngày không hợp lệ (dd/mm/yyyy hoặc yyyy-mm-dd).",
            "Invalid date (dd/mm/yyyy or yyyy-mm-dd).",
        ),
        "invalid_grade" => (
            "Khối lớp phải từ 1 đến 12.",
            "The grade must be between 1 and 12.",
        ),
        "invalid_school_year" => (
            "Năm học phải có dạng 2025-2026.",
            "The school year must look like 2025-2026.",
        ),
        "invalid_school_level" => (
            "Cấp học phải là TH, THCS hoặc THPT.",
            "The school level must be TH, THCS or THPT.",
        ),
        "invalid_code" => (
            "Mã chỉ gồm chữ không dấu, số, - và _ (tối đa 32 ký tự).",
            "A code uses unaccented letters, digits, - and _ (32 characters at most).",
        ),
        "needs_four_options" => (
            "Câu trắc nghiệm cần đúng 4 phương án A-D.",
            "A multiple-choice item needs exactly four options A-D.",
        ),
        "duplicate_options" => ("Hai phương án trùng nhau.", "Two options are the same."),
        "needs_four_statements" => (
            "Câu đúng/sai cần đúng 4 ý a-d.",
            "A true/false item needs exactly four statements a-d.",
        ),
        "invalid_series" => (
            "Bộ sách phải là ket_noi, chan_troi hoặc canh_dieu.",
            "The series must be ket_noi, chan_troi or canh_dieu.",
        ),
        "item_not_found" => ("Không tìm thấy câu hỏi.", "Item not found."),
        "item_not_editable" => (
            "Câu hỏi đang chờ duyệt nên chưa sửa được.",
            "The item is waiting for review and cannot be edited now.",
        ),
        "item_not_submittable" => (
            "Chỉ gửi duyệt được bản nháp hoặc bản bị trả lại.",
            "Only a draft or a returned item can be submitted.",
        ),
        "item_not_submitted" => (
            "Câu hỏi không ở trạng thái chờ duyệt.",
            "The item is not waiting for review.",
        ),
        "item_not_approved" => (
            "Câu hỏi chưa được duyệt.",
            "The item has not been approved.",
        ),
        "item_retired" => ("Câu hỏi đã ngừng sử dụng.", "The item is retired."),
        "own_item_review" => (
            "Không được tự duyệt câu hỏi của mình.",
            "You cannot review your own item.",
        ),
        "comment_required" => (
            "Cần ghi nhận xét khi trả lại.",
            "A comment is required when returning an item.",
        ),
        "paper_not_found" => ("Không tìm thấy đề.", "Paper not found."),
        "matrix_not_satisfied" => (
            "Ngân hàng thiếu câu hỏi đã duyệt cho một số ô của ma trận.",
            "The bank lacks approved items for some cells of the matrix.",
        ),
        "matrix_shape" => (
            "Ma trận không khớp cấu trúc đề của môn.",
            "The matrix does not match the subject's paper format.",
        ),
        "missing_stem" => ("Câu hỏi không có nội dung.", "The item has no stem."),
        "missing_answer" => (
            "Không tìm thấy đáp án (gạch chân, in đậm, tô đỏ, dấu * hoặc dòng Đáp án:).",
            "No answer is marked (underline, bold, red, a leading * or an Đáp án: line).",
        ),
        "several_answers" => (
            "Có nhiều hơn một phương án được đánh dấu đúng.",
            "More than one option is marked correct.",
        ),
        "short_answer_too_long" => (
            "Đáp án trả lời ngắn tối đa 4 ký tự.",
            "A short answer has at most 4 characters.",
        ),
        "short_answer_invalid" => (
            "Đáp án trả lời ngắn chỉ gồm chữ số, dấu - và dấu phẩy.",
            "A short answer uses only digits, - and the comma.",
        ),
        "invalid_level" => (
            "Mức độ phải là Biết, Hiểu hoặc Vận dụng.",
            "The level must be Biết, Hiểu or Vận dụng.",
        ),
        "single_true_false" => (
            "Câu đúng/sai đơn của Moodle không tương ứng Phần II (cần 4 ý); hãy gộp thành câu nhiều lựa chọn 4 ý.",
            "A single Moodle true/false question does not fit Part II (four statements); combine four into one multiple-response question.",
        ),
        "malformed_gift" => (
            "Câu hỏi GIFT thiếu dấu đóng ngoặc }.",
            "A GIFT question lacks its closing }.",
        ),
        "unsupported_question_type" => (
            "Loại câu hỏi này chưa được hỗ trợ.",
            "This question type is not supported.",
        ),
        "group_not_found" => ("Không tìm thấy nhóm câu hỏi.", "Question group not found."),
        "invalid_code_count" => (
            "Số mã đề phải từ 1 đến 99.",
            "The number of codes must be 1 to 99.",
        ),
        "invalid_subject" => ("Môn học không hợp lệ.", "Unknown subject."),
        "unknown_class" => (
            "Không có lớp này trong trường.",
            "No such class in this school.",
        ),
        "unknown_school" => ("Không có trường này.", "No such school."),
        "duplicate_in_file" => (
            "Trùng tên đăng nhập với một dòng trước trong tệp.",
            "The login repeats an earlier row of the file.",
        ),
        "missing_columns" => (
            "Tệp thiếu cột bắt buộc.",
            "The file lacks required columns.",
        ),
        "unreadable_file" => ("Không đọc được tệp.", "The file cannot be read."),
        "archive_too_large" => (
            "Tệp nén quá lớn sau khi giải nén hoặc có quá nhiều tệp con.",
            "The archive is too large once unpacked, or has too many entries.",
        ),
        "import_too_complex" => (
            "Tệp có quá nhiều phần tử để nhập một lần; hãy chia thành nhiều tệp nhỏ hơn.",
            "The file has too many elements to import at once; split it into smaller files.",
        ),
        "import_timed_out" => (
            "Đọc tệp quá thời gian cho phép; hãy chia thành nhiều tệp nhỏ hơn.",
            "Reading the file took longer than allowed; split it into smaller files.",
        ),
        "too_many_passkey_starts" => (
            "Có quá nhiều lượt đăng nhập bằng khóa truy cập vừa bắt đầu; vui lòng thử lại sau ít phút.",
            "Too many passkey sign-ins were started just now; please try again in a few minutes.",
        ),
        "json_object_expected" => (
            "Nội dung JSON phải là một đối tượng { … }, không phải một mảng.",
            "The JSON body must be an object { … }, not an array.",
        ),
        "personal_data_unreadable" => (
            "Dữ liệu cá nhân này không mở được cho đúng người của nó; sự cố đã được ghi lại.",
            "This personal data does not open for the person it is stored under; the fault is logged.",
        ),
        "import_queue_full" => (
            "Máy chủ đang nhập nhiều tệp khác; vui lòng thử lại sau ít phút.",
            "The server is importing other files; please try again in a few minutes.",
        ),
        "too_many_items" => (
            "Tệp có quá 2.000 câu hỏi; hãy chia thành nhiều tệp.",
            "The file has more than 2,000 questions; split it into several files.",
        ),
        "unsafe_path" => (
            "Tệp nén chứa đường dẫn không an toàn.",
            "The archive contains an unsafe path.",
        ),
        "malformed_xml" => ("Tệp XML bị lỗi cấu trúc.", "The XML is malformed."),
        "xml_entity" => (
            "Tệp XML khai báo thực thể (DOCTYPE/ENTITY), không được chấp nhận.",
            "The XML declares entities (DOCTYPE/ENTITY), which are not accepted.",
        ),
        "empty_file" => (
            "Tệp không có dòng dữ liệu nào.",
            "The file has no data rows.",
        ),
        "import_rejected" => (
            "Tệp có dòng lỗi nên không dòng nào được nhập. Xem báo cáo từng dòng.",
            "The file has invalid rows, so nothing was imported. See the per-row report.",
        ),
        "ceremony_unknown" => (
            "Phiên xác thực không tồn tại hoặc đã được dùng. Hãy thử lại từ đầu.",
            "This sign-in challenge is unknown or already used. Start again.",
        ),
        "ceremony_expired" => (
            "Phiên xác thực đã hết hạn. Hãy thử lại từ đầu.",
            "This sign-in challenge has expired. Start again.",
        ),
        "ceremony_mismatch" => (
            "Phiên xác thực này không dành cho thao tác hoặc thiết bị này.",
            "This challenge was issued for another action or device.",
        ),
        "passkey_rejected" => (
            "Khóa truy cập không được chấp nhận (sai chữ ký, sai trang web hoặc sai thử thách).",
            "The passkey's answer was refused (signature, site or challenge did not match).",
        ),
        "passkey_unknown" => (
            "Khóa truy cập này chưa được đăng ký hoặc đã bị thu hồi.",
            "This passkey is not registered or has been revoked.",
        ),
        "passkey_clone_suspected" => (
            "Khóa truy cập này có dấu hiệu bị sao chép nên đã bị khóa. Hãy liên hệ quản trị trường.",
            "This passkey looks cloned and has been blocked. Contact your school's administrator.",
        ),
        "passkey_not_yours" => (
            "Khóa truy cập này thuộc về người khác.",
            "This passkey belongs to someone else.",
        ),
        "passkey_assertion_required" => (
            "Kỳ thi yêu cầu xác thực bằng khóa truy cập trước khi bắt đầu hoặc tiếp tục làm bài.",
            "This exam needs your passkey before you start or resume the attempt.",
        ),
        "passkey_already_registered" => (
            "Khóa truy cập này đã được đăng ký.",
            "This passkey is already registered.",
        ),
        "passkey_not_found" => ("Không tìm thấy khóa truy cập.", "Passkey not found."),
        "no_passkey" => (
            "Bạn chưa có khóa truy cập. Hãy đăng ký với giáo viên hoặc giám thị.",
            "You have no passkey yet. Register one with your teacher or proctor.",
        ),
        "enrollment_code_required" => (
            "Học sinh cần mã đăng ký do giáo viên hoặc giám thị cấp.",
            "Students need an enrollment code from a teacher or proctor.",
        ),
        "enrollment_code_used" => (
            "Mã đăng ký đã được sử dụng.",
            "This enrollment code has already been used.",
        ),
        "enrollment_code_expired" => (
            "Mã đăng ký đã hết hạn. Hãy xin mã mới.",
            "This enrollment code has expired. Ask for a new one.",
        ),
        "enrollment_code_unknown" => (
            "Mã đăng ký không đúng.",
            "This enrollment code is not valid.",
        ),
        "too_many_enrollment_attempts" => (
            "Nhập sai mã quá nhiều lần. Hãy thử lại sau.",
            "Too many enrollment codes tried. Try again later.",
        ),
        "not_in_class" => (
            "Bạn không thuộc lớp của phiên đăng ký này.",
            "You are not in this enrollment session's class.",
        ),
        "not_a_student" => (
            "Người dùng này không phải học sinh.",
            "This user is not a student.",
        ),
        "enrollment_needs_school_staff" => (
            "Chỉ giáo viên, giám thị hoặc quản trị của chính trường học sinh mới cấp được mã đăng ký.",
            "Only a teacher, proctor or admin of the student's own school can issue enrollment codes.",
        ),
        "enrollment_code_not_yours" => (
            "Mã đăng ký này dành cho học sinh khác. Hãy đăng nhập bằng tài khoản của chính em.",
            "This enrollment code is for another student. Sign in with your own account.",
        ),
        "passkey_supervised_by_sole_proctor" => (
            "Khóa truy cập này được đăng ký dưới sự giám sát của chính giám thị phòng thi nên không dùng để xác thực ở phòng này. Hãy dùng khóa khác hoặc nhờ giám thị thứ hai.",
            "This passkey was enrolled under the supervision of this room's only proctor, so it cannot prove identity here. Use another passkey or ask a second proctor.",
        ),
        "notice_not_found" => ("Không tìm thấy thông báo.", "Notice not found."),
        "password_too_common" => (
            "Mật khẩu này quá phổ biến, dễ bị đoán. Hãy chọn một cụm từ riêng của bạn.",
            "This password is too common and easy to guess. Choose a phrase of your own.",
        ),
        "consent_not_by_guardian" => (
            "Sự đồng ý này do chính học sinh đưa ra, không cần xác minh người giám hộ.",
            "This consent was given by the student; there is no guardian to verify.",
        ),
        "offboard_not_yourself" => (
            "Không tự xóa tài khoản của mình; một quản trị khác làm việc này.",
            "You cannot off-board your own account; another admin does it.",
        ),
        "reset_not_for_yourself" => (
            "Không tự đặt lại mật khẩu của mình ở đây; hãy đổi mật khẩu (cần mật khẩu hiện tại).",
            "You cannot reset your own password here; change it instead (it asks for the current one).",
        ),
        "reset_needs_province_admin" => (
            "Chỉ quản trị của Sở mới đặt lại mật khẩu cho một quản trị trường.",
            "Only a province admin can reset a school admin's password.",
        ),
        "metrics_token_required" => (
            "Cần mã truy cập số liệu giám sát.",
            "The metrics need their access token.",
        ),
        "too_many_id_card_checks" => (
            "Đã kiểm tra quá nhiều CCCD trong ít phút. Hãy thử lại sau.",
            "Too many ID cards checked in a few minutes. Try again later.",
        ),
        "paper_used_by_other_exams" => (
            "Đề này còn được dùng ở kỳ thi mà bạn không tổ chức; sửa đáp án sẽ chấm lại cả kỳ thi đó. Hãy nhờ người tổ chức chung (quản trị trường hoặc Sở).",
            "This paper is also used by an exam you do not organise, which a key correction would regrade. Ask someone who organises both (a school or province admin).",
        ),
        "too_many" => ("Danh sách quá dài.", "The list is too long."),
        "too_many_streams" => (
            "Bạn đang mở quá nhiều bảng theo dõi trực tiếp. Hãy đóng bớt rồi thử lại.",
            "You have too many live dashboards open. Close some and try again.",
        ),
        "nul_character" => (
            "Dữ liệu gửi lên chứa ký tự NUL (U+0000), không được chấp nhận.",
            "The request holds a NUL character (U+0000), which is not accepted.",
        ),
        "not_exam_staff" => (
            "Bạn không thuộc ban tổ chức hoặc cán bộ chấm của kỳ thi này.",
            "You are not an organiser or marker of this exam.",
        ),
        "not_school_staff" => (
            "Người này không phải cán bộ đang hoạt động của trường tổ chức kỳ thi.",
            "This person is not active staff of the exam's school.",
        ),
        "notice.passkey_registered" => (
            "Một khóa truy cập mới đã được đăng ký cho tài khoản này. Nếu học sinh không tự đăng ký, hãy thu hồi khóa và báo ngay cho nhà trường.",
            "A new passkey was registered on this account. If the student did not register it, revoke it and tell the school at once.",
        ),
        "invalid_cursor" => (
            "Con trỏ phân trang không hợp lệ.",
            "The page cursor is not valid.",
        ),
        _ => ("Yêu cầu không hợp lệ.", "The request is not valid."),
    }
}

pub fn message(code: &str) -> &'static str {
    let (vi, en) = text(code);
    match current_lang() {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_by_quality() {
        let cases = [
            (None, Lang::Vi, "no header means Vietnamese"),
            (Some("en-US,en;q=0.9"), Lang::En, "plain English"),
            (
                Some("fr, en;q=0.5, vi;q=0.8"),
                Lang::Vi,
                "vi has the higher q",
            ),
            (Some("vi;q=0.2, en;q=0.7"), Lang::En, "en has the higher q"),
            (Some("de, fr"), Lang::Vi, "unsupported languages fall back"),
        ];
        for (header, want, why) in cases {
            assert_eq!(Lang::from_accept_language(header), want, "{why}");
        }
    }
}
