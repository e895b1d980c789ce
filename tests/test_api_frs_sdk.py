"""The official huaweicloudsdkfrs client, unchanged, against the appliance over real HTTP."""


import pytest
from conftest import FRS_AK, FRS_PROJECT, FRS_SK, jpeg
from helpers import b64

pytest.importorskip("huaweicloudsdkfrs")
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkcore.http.formdata import FormFile  # noqa: E402
from huaweicloudsdkfrs.v2 import (  # noqa: E402
    AddFacesBase64Req,
    AddFacesByBase64Request,
    AddFacesByFileRequest,
    AddFacesByFileRequestBody,
    AddFacesByUrlRequest,
    AddFacesUrlReq,
    BatchDeleteFacesRequest,
    CompareFaceByBase64Request,
    CompareFaceByFileRequest,
    CompareFaceByFileRequestBody,
    CreateFaceSetReq,
    CreateFaceSetRequest,
    DeleteFaceByExternalImageIdRequest,
    DeleteFaceByFaceIdRequest,
    DeleteFacesBatchReq,
    DeleteFaceSetRequest,
    DetectFaceByBase64Request,
    DetectFaceByFileRequest,
    DetectFaceByFileRequestBody,
    FaceCompareBase64Req,
    FaceDetectBase64Req,
    FaceSearchBase64Req,
    FaceSearchFaceIdReq,
    FrsClient,
    SearchFaceByBase64Request,
    SearchFaceByFaceIdRequest,
    SearchFaceByFileRequest,
    SearchFaceByFileRequestBody,
    ShowAllFaceSetsRequest,
    ShowFaceSetRequest,
    ShowFacesByFaceIdRequest,
    ShowFacesByLimitRequest,
    TypeInfo,
    UpdateFaceReq,
    UpdateFaceRequest,
)


def client(api, *, ak=FRS_AK, sk=FRS_SK, project=FRS_PROJECT):
    return FrsClient.new_builder().with_credentials(BasicCredentials(ak, sk, project)).with_endpoint(api.url).build()


def create(c, name="staff"):
    body = CreateFaceSetReq(face_set_name=name, face_set_capacity=10000,
                            external_fields={"badge": TypeInfo(type="long"), "team": TypeInfo(type="string")})
    return c.create_face_set(CreateFaceSetRequest(body=body))


def test_every_frs_operation_through_the_official_sdk(api, astronaut_rgb, astronaut_jpeg, tmp_path):
    c = client(api)
    created = create(c)
    assert created.face_set_info.face_set_name == "staff" and len(created.face_set_info.face_set_id) == 8
    assert created.x_request_id
    assert [s.face_set_name for s in c.show_all_face_sets(ShowAllFaceSetsRequest()).face_sets_info] == ["staff"]

    added = c.add_faces_by_base64(AddFacesByBase64Request(face_set_name="staff", body=AddFacesBase64Req(
        image_base64=b64(astronaut_jpeg), external_image_id="astro", external_fields={"badge": 7, "team": "nasa"}, single=True)))
    face_id = added.faces[0].face_id
    assert added.faces[0].external_image_id == "astro" and added.faces[0].bounding_box.width >= 80

    flipped = tmp_path / "flipped.jpg"
    flipped.write_bytes(jpeg(astronaut_rgb[:, ::-1]))
    by_file = c.add_faces_by_file(AddFacesByFileRequest(face_set_name="staff", body=AddFacesByFileRequestBody(
        image_file=FormFile(str(flipped)), external_image_id="flip", external_fields='{"badge": 8}', single=True)))
    assert by_file.faces[0].external_fields == {"badge": 8}

    info = c.show_face_set(ShowFaceSetRequest(face_set_name="staff")).face_set_info
    assert info.face_number == 2 and info.external_fields["badge"] == {"type": "long"}
    page = c.show_faces_by_limit(ShowFacesByLimitRequest(face_set_name="staff", offset=0, limit=5))
    assert {f.external_image_id for f in page.faces} == {"astro", "flip"}
    one = c.show_faces_by_face_id(ShowFacesByFaceIdRequest(face_set_name="staff", face_id=face_id))
    assert one.faces[0].face_id == face_id

    found = c.search_face_by_base64(SearchFaceByBase64Request(face_set_name="staff", body=FaceSearchBase64Req(
        image_base64=b64(astronaut_jpeg), top_n=2, threshold=0.5, return_fields=["badge"])))
    assert found.faces[0].face_id == face_id and found.faces[0].similarity > 0.93
    assert found.faces[0].external_fields == {"badge": 7}
    filtered = c.search_face_by_base64(SearchFaceByBase64Request(face_set_name="staff", body=FaceSearchBase64Req(
        image_base64=b64(astronaut_jpeg), filter="badge:8", sort=[{"badge": "desc"}])))
    assert [f.external_image_id for f in filtered.faces] == ["flip"]
    query = tmp_path / "query.jpg"
    query.write_bytes(astronaut_jpeg)
    by_file_search = c.search_face_by_file(SearchFaceByFileRequest(face_set_name="staff", body=SearchFaceByFileRequestBody(
        image_file=FormFile(str(query)), top_n=1, threshold=0.9)))
    assert by_file_search.faces[0].face_id == face_id
    by_id = c.search_face_by_face_id(SearchFaceByFaceIdRequest(face_set_name="staff", body=FaceSearchFaceIdReq(face_id=face_id, top_n=1)))
    assert by_id.faces[0].face_id == face_id

    compared = c.compare_face_by_base64(CompareFaceByBase64Request(body=FaceCompareBase64Req(
        image1_base64=b64(astronaut_jpeg), image2_base64=b64(jpeg(astronaut_rgb, quality=60)))))
    assert compared.similarity > 0.93 and compared.image1_face.bounding_box.width > 0
    compared = c.compare_face_by_file(CompareFaceByFileRequest(body=CompareFaceByFileRequestBody(
        image1_file=FormFile(str(query)), image2_file=FormFile(str(flipped)))))
    assert 0 <= compared.similarity <= 1
    detected = c.detect_face_by_base64(DetectFaceByBase64Request(body=FaceDetectBase64Req(image_base64=b64(astronaut_jpeg))))
    assert len(detected.faces) == 1
    detected = c.detect_face_by_file(DetectFaceByFileRequest(body=DetectFaceByFileRequestBody(image_file=FormFile(str(query)))))
    assert detected.faces[0].bounding_box.height > 0

    updated = c.update_face(UpdateFaceRequest(face_set_name="staff", body=UpdateFaceReq(
        face_id=face_id, external_image_id="astro2", external_fields={"badge": 70})))
    assert updated.face_number == 1
    assert api.store.face("staff", int(face_id)).external_fields == {"badge": 70}

    deleted = c.delete_face_by_external_image_id(DeleteFaceByExternalImageIdRequest(face_set_name="staff", external_image_id="flip"))
    assert deleted.face_number == 1
    c.add_faces_by_base64(AddFacesByBase64Request(face_set_name="staff", body=AddFacesBase64Req(
        image_base64=b64(astronaut_jpeg), external_fields={"badge": 99})))
    batch = c.batch_delete_faces(BatchDeleteFacesRequest(face_set_name="staff", body=DeleteFacesBatchReq(filter="badge:99")))
    assert batch.face_number == 1
    gone = c.delete_face_by_face_id(DeleteFaceByFaceIdRequest(face_set_name="staff", face_id=face_id))
    assert gone.face_number == 1
    assert c.show_face_set(ShowFaceSetRequest(face_set_name="staff")).face_set_info.face_number == 0
    assert c.delete_face_set(DeleteFaceSetRequest(face_set_name="staff")).face_set_name == "staff"
    assert c.show_all_face_sets(ShowAllFaceSetsRequest()).face_sets_info == []


def test_sdk_errors_carry_code_message_and_request_id(api):
    c = client(api)
    with pytest.raises(ClientRequestException) as err:
        c.show_face_set(ShowFaceSetRequest(face_set_name="ghost"))
    assert (err.value.status_code, err.value.error_code) == (400, "FRS.0302")
    assert err.value.request_id
    create(c)
    with pytest.raises(ClientRequestException) as err:
        create(c)
    assert err.value.error_code == "FRS.0301"
    with pytest.raises(ClientRequestException) as err:
        c.add_faces_by_url(AddFacesByUrlRequest(face_set_name="staff", body=AddFacesUrlReq(image_url="http://example.com/a.jpg")))
    assert err.value.error_code == "FRS.0012" and "url_fetch_hosts" in err.value.error_msg


@pytest.mark.parametrize(
    "credentials, code",
    [((FRS_AK, "wrong-secret", FRS_PROJECT), "FRS.0002"),
     (("OTHERAK", FRS_SK, FRS_PROJECT), "FRS.0002"),
     ((FRS_AK, FRS_SK, "otherproject"), "FRS.0028")],
)
def test_sdk_with_wrong_credentials_is_refused(api, credentials, code):
    ak, sk, project = credentials
    with pytest.raises(ClientRequestException) as err:
        client(api, ak=ak, sk=sk, project=project).show_all_face_sets(ShowAllFaceSetsRequest())
    assert err.value.status_code == 403 and err.value.error_code == code
