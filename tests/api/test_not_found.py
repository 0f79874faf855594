"""A URL under /api/ that no route matches answers like every other API refusal: JSON."""


def test_an_unrouted_api_url_answers_json(api, dave):
    for url in ("/api/v1/users/-1/", "/api/v1/users/abc/", "/api/v1/nothing-here/"):
        response = api(dave).get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}


def test_pages_keep_their_own_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
